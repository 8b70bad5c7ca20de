"""The wire: Kafka and file I/O, serde, Parquet and Postgres sinks."""
