"""Prometheus metrics shared by every service: defined once, labelled by service or consumer."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

GRPC_REQUESTS = Counter(
    "antt_grpc_requests_total", "gRPC requests by method and status code", ["service", "method", "code"]
)
GRPC_LATENCY = Histogram(
    "antt_grpc_request_duration_seconds", "gRPC request latency", ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_APPENDED = Counter("antt_eventstore_events_appended_total", "Events appended to the event store", ["service"])
RELAY_PUBLISHED = Counter("antt_relay_published_total", "Events published to JetStream by the outbox relay", ["service"])
RELAY_LAG = Gauge("antt_relay_lag_positions", "Positions in the event store not yet published", ["service"])
RELAY_POSITION = Gauge("antt_relay_position", "Last notification position published and acknowledged", ["service"])
RELAY_ERRORS = Counter("antt_relay_publish_errors_total", "Failed publish attempts (retried)", ["service"])
CONSUMER_PROCESSED = Counter(
    "antt_consumer_processed_total", "Messages applied to a projection (duplicates excluded)", ["consumer"]
)
CONSUMER_DUPLICATES = Counter(
    "antt_consumer_duplicates_total", "Redelivered messages recognised as already applied", ["consumer"]
)
CONSUMER_LAG = Gauge("antt_consumer_lag_messages", "Messages in the stream not yet delivered to the consumer", ["consumer"])
CONSUMER_FAILURES = Counter("antt_consumer_failures_total", "Failed attempts to apply a message", ["consumer"])
DEAD_LETTERS = Counter("antt_consumer_dead_letters_total", "Messages moved to antt.dlq.<consumer>", ["consumer"])
AUTHZ_DENIED = Counter(
    "antt_authz_denied_total", "Calls refused with PERMISSION_DENIED, by reason code", ["service", "method", "reason"]
)
REMINDERS_SENT = Counter("antt_reminders_sent_total", "Reminders and digests accepted by their channel", ["channel"])
REMINDERS_FAILED = Counter("antt_reminders_failed_total", "Failed attempts to send a reminder or digest", ["channel"])
