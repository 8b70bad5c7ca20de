"""The vocabulary every layer shares: event and record types, topic names, key rules, errors."""
