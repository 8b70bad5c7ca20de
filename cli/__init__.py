"""The `propstream` command line: parsing, settings, printing and reports (no Bytewax here)."""
