"""The outbox relay: the owning service's notification log -> JetStream, exactly in order."""
