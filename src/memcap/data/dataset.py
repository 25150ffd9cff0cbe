"""`Dataset`: validated once at the door, statistics theorems need computed lazily and cached."""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import Any, Literal

import numpy as np

from memcap.data.neighbours import closest_pair, closest_pair_differing
from memcap.errors import DataError

__all__ = ["Dataset", "DataError"]

Task = Literal["regression", "classification"]


class Dataset:
    """A finite dataset ``{(x_i, y_i)}``.

    ``X``: 2-D array (N, d_x) of finite reals. ``y``: for ``task="regression"`` an array (N,) or
    (N, d_y) of finite reals; for ``task="classification"`` an array (N,) of class labels (any
    hashable values; they are mapped to 0..C-1 in sorted order, kept in ``classes``).

    Checks (like scikit-learn's ``check_X_y``): finite values, 2-D ``X``, matching lengths, at least
    one point, distinct inputs. Identical inputs with identical labels are merged with a warning;
    identical inputs with different labels are an error naming both rows.

    Where the points came from, kept for reports: ``source_rows`` (N,) — the user's row number of
    each kept point (default 0..N-1 of the rows given; merging duplicates keeps the first row of
    each, so a report naming point ``i`` names ``source_rows[i]``; :meth:`row_names` maps point
    indices); ``label_column`` — the CSV column the labels came from (None otherwise);
    ``class_names`` — one string per class (``classes`` order), default ``str`` of each label
    (``class_names`` given with integer labels 0..C-1 names them, e.g. iris' species).
    """

    def __init__(self, X: Any, y: Any, task: Task = "regression", name: str = "data", *,
                 class_names: Any = None, label_column: str | int | None = None,
                 source_rows: Any = None) -> None:
        """Validate at the door (see the class docstring).

        Long: the validation is one check after another, each with its own message naming the rows.
        """
        if task not in ("regression", "classification"):
            raise DataError(f"task must be 'regression' or 'classification', got {task!r}")
        self.task: Task = task
        self.name = name
        try:
            Xa = np.asarray(X, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"X must be a 2-D numeric array (rows of equal length); could not read it as one: {exc}"
            ) from None
        if Xa.ndim != 2:
            raise DataError(
                f"X must be 2-D (N points x d_x features), found {Xa.ndim}-D with shape {Xa.shape}; "
                "reshape it, e.g. X.reshape(len(X), -1)"
            )
        if Xa.shape[0] == 0:
            raise DataError("the dataset is empty: at least one point is needed")
        if Xa.shape[1] == 0:
            raise DataError("X has zero features (shape (N, 0)); each point needs d_x >= 1 coordinates")
        bad = np.argwhere(~np.isfinite(Xa))
        if bad.size:
            r, c = bad[0]
            raise DataError(
                f"X has {len(bad)} non-finite value(s) (NaN or inf), first at row {r}, column {c} "
                f"({Xa[r, c]}); remove or impute those rows"
            )
        ya_raw = np.asarray(y)
        if ya_raw.ndim == 0 or ya_raw.shape[0] != Xa.shape[0]:
            raise DataError(
                f"y must have one entry per row of X: X has {Xa.shape[0]} rows, y has shape "
                f"{ya_raw.shape}"
            )
        if task == "classification":
            if ya_raw.ndim != 1:
                raise DataError(
                    f"classification labels must be 1-D (one class per point), found shape {ya_raw.shape}; "
                    "pass class indices, not one-hot rows"
                )
            if ya_raw.dtype.kind == "f" and not np.all(np.isfinite(ya_raw)):
                r = int(np.argwhere(~np.isfinite(ya_raw))[0][0])
                raise DataError(f"y has a non-finite label at row {r}; remove that row")
            classes, yi = np.unique(ya_raw, return_inverse=True)
            self.classes = classes
            ya = yi.astype(np.int64)
        else:
            try:
                ya = np.asarray(ya_raw, dtype=np.float64)
            except (ValueError, TypeError):
                raise DataError(
                    "regression targets must be numbers; for class labels use task='classification'"
                ) from None
            if ya.ndim == 1:
                ya = ya[:, None]
            if ya.ndim != 2:
                raise DataError(f"regression y must be (N,) or (N, d_y), found shape {ya.shape}")
            bad = np.argwhere(~np.isfinite(ya))
            if bad.size:
                raise DataError(
                    f"y has {len(bad)} non-finite value(s), first at row {bad[0][0]}; remove those rows"
                )
            self.classes = None
        rows = np.arange(Xa.shape[0]) if source_rows is None else np.asarray(source_rows)
        if rows.shape != (Xa.shape[0],) or rows.dtype.kind not in "iu":
            raise DataError(f"source_rows must be {Xa.shape[0]} integers (one per row of X), got shape "
                            f"{rows.shape}, dtype {rows.dtype}")
        self.label_column = label_column
        self.class_names: list[str] | None = None
        if task == "classification":
            self.class_names = self._names(class_names)
        elif class_names is not None:
            raise DataError("class_names apply to classification data, not regression")
        self._rows_given = rows
        Xa, ya, keep = self._dedupe(Xa, ya)
        self.source_rows: np.ndarray = rows[keep].astype(np.int64)
        self.source_rows.setflags(write=False)
        Xa.setflags(write=False)
        ya.setflags(write=False)
        self.X: np.ndarray = Xa
        self.y: np.ndarray = ya

    def _names(self, class_names: Any) -> list[str]:
        assert self.classes is not None
        plain = [str(c.item() if hasattr(c, "item") else c) for c in self.classes]
        if class_names is None:
            return plain
        names = [str(n) for n in class_names]
        c = self.classes
        if c.dtype.kind in "iu" and np.all(c >= 0) and int(c.max()) < len(names):
            return [names[int(c)] for c in self.classes]  # integer labels index the names
        if len(names) == len(self.classes):
            return names
        raise DataError(f"class_names has {len(names)} names for {len(self.classes)} classes {plain}; "
                        "give one name per class (sorted label order) or per integer label 0..C-1")

    def row_names(self, points: Any) -> list[int]:
        """The user's row numbers (``source_rows``) of point indices ``points`` of this dataset."""
        return [int(self.source_rows[int(i)]) for i in points]

    def class_name(self, k: int) -> str:
        """Name of class index ``k`` (classification)."""
        if self.class_names is None:
            raise DataError("class names exist only for classification datasets")
        return self.class_names[int(k)]

    # ---- validation ------------------------------------------------------------------------------
    def _dedupe(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        if len(first) == len(X):
            return X, y, np.arange(len(X))
        yk = y if y.ndim == 2 else y[:, None]
        rep = first[inverse]
        conflict = np.any(yk != yk[rep], axis=1)
        if np.any(conflict):
            i = int(np.argmax(conflict))
            j = int(rep[i])
            rj, ri = int(self._rows_given[j]), int(self._rows_given[i])
            raise DataError(
                f"rows {rj} and {ri} have identical inputs but different labels ({self._label(y, j)} vs "
                f"{self._label(y, i)}); no function can fit both: remove or relabel one of them"
            )
        keep = np.sort(first)
        dropped = len(X) - len(keep)
        warnings.warn(
            f"{dropped} duplicate row(s) with identical inputs and labels were merged "
            f"(kept {len(keep)} of {len(X)} points; reports name points by their original rows)",
            stacklevel=3,
        )
        return X[keep].copy(), y[keep].copy(), keep

    def _label(self, y: np.ndarray, i: int) -> str:
        if self.task == "classification" and self.classes is not None:
            c = self.classes[y[i]]
            return repr(c.item() if hasattr(c, "item") else c)
        v = y[i]
        return repr(v.tolist() if v.size > 1 else float(v.ravel()[0]))

    # ---- shape ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, task={self.task}, N={self.N}, d_x={self.d_x}, "
                f"d_y={self.d_y})")

    @property
    def N(self) -> int:
        return len(self)

    @property
    def d_x(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def d_y(self) -> int:
        """Output dimension: number of classes (one-hot) for classification, columns of y else."""
        return self.n_classes if self.task == "classification" else int(self.y.shape[1])

    @property
    def targets(self) -> np.ndarray:
        """Real-valued targets (N, d_y): y itself, or one-hot rows for classification."""
        if self.task == "classification":
            return np.eye(self.n_classes)[self.y]
        return self.y

    @property
    def labels(self) -> np.ndarray:
        """Class indices (N,) for classification."""
        if self.task != "classification":
            raise DataError("labels exist only for classification datasets")
        return self.y

    # ---- statistics (cached) ----------------------------------------------------------------------
    def _min_pair(self, p: float, key: np.ndarray | None) -> tuple[float, tuple[int, int] | None]:
        """Closest pair in the Lp norm; with ``key``, only pairs whose keys differ (O(N log N) in
        practice, see :mod:`memcap.data.neighbours`)."""
        if key is None:
            return closest_pair(self.X, p)
        return closest_pair_differing(self.X, key, p)

    @cached_property
    def _closest_l2(self) -> tuple[float, tuple[int, int] | None]:
        return self._min_pair(2, None)

    @property
    def min_distance(self) -> float:
        """Minimum pairwise L2 distance between inputs."""
        return self._closest_l2[0]

    @property
    def min_distance_pair(self) -> tuple[int, int] | None:
        return self._closest_l2[1]

    @cached_property
    def separation_l2(self) -> float:
        """λ_D in L2: minimum distance between differently labelled points (inf if one class)."""
        if self.task == "regression":
            return self._regression_separation(2)
        return self._min_pair(2, self.y)[0]

    @cached_property
    def separation_linf(self) -> float:
        """λ_D in L∞: minimum L∞ distance between differently labelled points."""
        if self.task == "regression":
            return self._regression_separation(np.inf)
        return self._min_pair(np.inf, self.y)[0]

    def separation(self, p: float = np.inf) -> float:
        """λ_D in the Lp norm (p = 1, 2, inf or any p >= 1)."""
        if p == np.inf:
            return self.separation_linf
        if p == 2:
            return self.separation_l2
        if self.task == "regression":
            return self._regression_separation(p)
        return self._min_pair(p, self.y)[0]

    def _regression_separation(self, p: float) -> float:
        # For regression every pair with different targets counts; distinct inputs with the same
        # target do not. Falls back to the minimum distance when targets are pairwise distinct.
        _, inv = np.unique(self.y, axis=0, return_inverse=True)
        return self._min_pair(p, inv.ravel())[0]

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "task": self.task, "N": self.N, "d_x": self.d_x, "d_y": self.d_y,
            "min_distance_l2": self.min_distance,
            "lambda_D_l2": self.separation_l2, "lambda_D_linf": self.separation_linf,
        }
        if self.task == "classification":
            out["classes"] = [c.item() if hasattr(c, "item") else c for c in self.classes]
            if self.class_names != [str(c) for c in out["classes"]]:
                out["class_names"] = self.class_names
        if self.label_column is not None:
            out["label_column"] = self.label_column
        if len(self._rows_given) > self.N:
            out["merged_duplicates"] = int(len(self._rows_given) - self.N)
        if self.task == "regression":
            out["y_min"] = self.y.min(axis=0).tolist()
            out["y_max"] = self.y.max(axis=0).tolist()
        return out
