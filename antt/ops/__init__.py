"""Operations: backup and restore of every service's store and of the JetStream streams."""
