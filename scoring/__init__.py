"""Model registry, training, scoring, grading and metrics (pure Python)."""
