"""NATS JetStream: connections, stream declarations and the exactly-once consumer base."""
