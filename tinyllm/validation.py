"""Input checks with messages that name the argument, for the library, the answers and the course
machinery.

Bad input should stop at the door with a sentence a learner understands, not
deep inside TensorFlow with a traceback.
"""

from __future__ import annotations

import numpy as np


def as_array(value, name: str, *, ndim=None, dtype=None, min_ndim=None) -> np.ndarray:
    """``np.asarray(value)`` checked to be numeric (and of ``ndim`` dimensions when given).

    ``dtype="float"`` converts to float32 unless the input is already a float
    type; ``dtype="int"`` requires whole numbers.
    """
    try:
        array = np.asarray(value)
    except Exception as error:  # noqa: BLE001
        raise TypeError(f"{name} must be array-like, got {type(value).__name__}: {error}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got an array of dtype {array.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got shape {array.shape}")
    if min_ndim is not None and array.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s), got shape {array.shape}"
        )
    if dtype == "float" and not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    elif dtype == "int":
        if np.issubdtype(array.dtype, np.floating):
            if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
                raise TypeError(
                    f"{name} must hold whole numbers (token ids / labels), got {array.dtype} values"
                )
            array = array.astype(np.int64)
        elif array.dtype == bool:
            array = array.astype(np.int64)
    return array


def require_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}"
        )


def require_range(array: np.ndarray, name: str, low: float, high: float) -> None:
    """Every value of ``array`` in the closed interval [low, high] (NaN fails)."""
    if array.size and not (np.all(array >= low) and np.all(array <= high)):
        finite = array[np.isfinite(array)] if np.issubdtype(array.dtype, np.floating) else array
        seen = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "NaN/inf"
        raise ValueError(f"{name} must lie in [{low}, {high}], got values in {seen}")


def require_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
