"""Per-player, per-team and per-game state and the as-of feature vector (pure Python)."""
