"""The four services of antt; each imports only the shared kernel `antt`, never another service."""
