"""Running services: the Service composition, the embedded nats-server, ports, `antt dev`."""
