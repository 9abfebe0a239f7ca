"""What the service does, in terms of ports; nothing here knows gRPC."""
