"""Errors of the scoring layer."""

from __future__ import annotations

from vocabulary.errors import PropstreamError

__all__ = ["ModelNotFoundError", "SchemaMismatchError", "ScoringError"]


class ScoringError(PropstreamError):
    """Root of scoring errors."""


class ModelNotFoundError(ScoringError):
    """No model of that name in the registry."""


class SchemaMismatchError(ScoringError):
    """A model trained on another feature schema than the running code's."""
