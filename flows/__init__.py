"""Bytewax wiring: the dataflow, its sources and sinks adapters, and running it."""
