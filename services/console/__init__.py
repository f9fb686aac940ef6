"""Operator console: a Vietnamese-first web application over the four services' gRPC APIs (issue 9)."""
