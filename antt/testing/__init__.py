"""Helpers for tests: nats-server on free ports, service processes, PostgreSQL databases, polling."""
