"""The wire: event schemas, serde, identity, file sources, Kafka I/O and the dead-letter record."""
