"""gRPC adapter: servicers and converters."""
