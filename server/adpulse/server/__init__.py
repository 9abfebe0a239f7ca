"""The adpulse gRPC server: transport (gRPC) over use cases over storage adapters and the kernel."""
