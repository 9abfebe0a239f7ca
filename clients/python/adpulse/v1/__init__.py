"""Generated protobuf and gRPC modules of the adpulse.v1 API (see proto/adpulse/v1)."""
