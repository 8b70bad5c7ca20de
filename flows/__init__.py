"""Dataflows and the `propstream` CLI: the only package that knows Bytewax."""
