"""gRPC transport: servicers convert between protobuf and the use cases, nothing more."""
