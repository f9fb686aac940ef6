"""Event store wiring: persistence from a database URL, hash-chained aggregates, the base application."""
