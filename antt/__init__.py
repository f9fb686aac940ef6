"""antt: the shared kernel (contracts, messaging, event store wiring, gRPC, metrics, CLI)."""
