"""A numpy evaluator of CatBoost's oblivious trees, for rescoring on every line move.

CatBoost's own `predict` costs about 200 µs for one row; this evaluates the exported trees
(`save_model(format="json")`) in a few vectorised numpy steps. It reproduces CatBoost's
arithmetic: features compared as float32 with `value > border`, leaf values summed in float64, then
`scale * sum + bias`. Outputs equal `predict(prediction_type="RawFormulaVal")`.
NaN compares false (`AsFalse`, `AsIs`) or true (`AsTrue`), as CatBoost exports per feature.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scoring.exceptions import ScoringError

if TYPE_CHECKING:  # scoring reads the exported trees: only training imports CatBoost (0.4 s)
    from catboost import CatBoost

__all__ = ["TreeEnsemble"]

_CHUNK = 128  # rows evaluated together (`TreeEnsemble.raw`)


class TreeEnsemble:
    """Oblivious trees as arrays: one comparison per split, one gather per tree."""

    def __init__(self, model_json: dict[str, Any]) -> None:
        trees = model_json["oblivious_trees"]
        if not trees:
            raise ScoringError("the model has no trees")
        nan_as_true = []
        for feature in model_json["features_info"].get("float_features", []):
            treatment = feature.get("nan_value_treatment", "AsFalse")
            if treatment not in ("AsFalse", "AsIs", "AsTrue"):
                raise ScoringError(
                    f"feature {feature['flat_feature_index']}: unknown nan treatment {treatment!r}"
                )
            if treatment == "AsTrue":
                nan_as_true.append(feature["flat_feature_index"])
        if model_json["features_info"].get("categorical_features"):
            raise ScoringError("categorical features are not supported by the tree evaluator")
        depth = max(len(t["splits"]) for t in trees)
        scale, bias = model_json["scale_and_bias"]
        self.dimension = len(bias) if isinstance(bias, list) else 1
        self.depth = depth
        features, borders, leaves = [], [], []
        for tree in trees:
            splits = tree["splits"]
            # shallower trees are padded with splits that are always false: the leaf index is unchanged
            features += [s["float_feature_index"] for s in splits] + [0] * (depth - len(splits))
            borders += [s["border"] for s in splits] + [np.inf] * (depth - len(splits))
            values = np.zeros((2**depth, self.dimension))
            values[: 2 ** len(splits)] = np.asarray(tree["leaf_values"], dtype=np.float64).reshape(
                -1, self.dimension
            )
            leaves.append(values)
        self.n_features = 1 + max(features)
        self._nan_as_true = np.asarray(nan_as_true, dtype=np.intp)
        self._features = np.asarray(features, dtype=np.intp)
        self._borders = np.asarray(borders, dtype=np.float32)[:, None]  # a split's border, each row
        if depth > 8:
            raise ScoringError(f"trees of depth {depth} are not supported (at most 8)")
        stacked = np.stack(leaves)  # trees x 2^depth x dimension
        # one flat array per output dimension; a leaf's position is tree * 2^depth + leaf index
        self._leaves = [np.ascontiguousarray(stacked[:, :, d].ravel()) for d in range(self.dimension)]
        self._offsets = (np.arange(len(trees)) * 2**depth).astype(np.intp)[:, None]
        self._bit_values = (1 << np.arange(depth)).astype(np.uint8)
        self._scale = float(scale)
        self._bias = np.asarray(bias if isinstance(bias, list) else [bias], dtype=np.float64)

    @classmethod
    def from_catboost(cls, model: CatBoost) -> TreeEnsemble:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.json"
            model.save_model(str(path), format="json")
            return cls(json.loads(path.read_text()))

    def raw(self, features: np.ndarray) -> np.ndarray:
        """Raw formula values, rows x dimension, for a rows x features float array, `_CHUNK`
        rows at a time: the gathered comparisons of many rows at once leave the CPU's cache
        (300 trees of depth 6: 3.4 µs a row in chunks of 128, 4.9 for 1,000 rows at once, 13
        for 5,000)."""
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] < self.n_features:
            raise ScoringError(f"expected rows x >= {self.n_features} features, got shape {x.shape}")
        if len(x) <= _CHUNK:
            return self._raw(x)
        return np.concatenate([self._raw(x[i : i + _CHUNK]) for i in range(0, len(x), _CHUNK)])

    def _raw(self, x: np.ndarray) -> np.ndarray:
        if len(self._nan_as_true):
            x = x.copy()
            columns = x[:, self._nan_as_true]
            x[:, self._nan_as_true] = np.where(np.isnan(columns), np.inf, columns)
        # split by split, every row at once: each split gathers a row of the transposed input
        # (one feature's values), 20-30% faster than gathering the rows' columns at any batch
        # size (300 trees of depth 6: 45 against 58 µs for 5 rows, 290 against 360 for 128)
        splits = np.ascontiguousarray(x.T).take(self._features, axis=0) > self._borders
        bits = splits.reshape(-1, self.depth, len(x)).view(np.uint8)
        # rows x trees: each row's leaf values are summed in the same order whatever the batch
        index = (np.einsum("tdn,d->tn", bits, self._bit_values) + self._offsets).T
        sums = np.stack([np.take(leaves, index).sum(axis=1) for leaves in self._leaves], axis=1)
        return self._scale * sums + self._bias
