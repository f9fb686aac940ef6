"""gRPC helpers: server factory (health, reflection, metrics), domain error mapping."""
