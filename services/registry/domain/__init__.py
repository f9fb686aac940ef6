"""Pure domain model of the registry: no I/O."""
