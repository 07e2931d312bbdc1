"""Data the chapters train on. Nothing here downloads: datasets ship in `data/` or inside a wheel.

- :func:`load_breast_cancer_split` — scikit-learn's breast-cancer set (in its wheel), standardised
- :func:`make_2d_dataset` — small 2-D sets for decision boundaries (xor, moons, circles, blobs)
- :func:`load_text` — the course corpus, or any UTF-8 text file of the learner's, checked
- :func:`split_text` — train/validation split of a text at a line boundary
- :func:`without_autotune` — a ``tf.data`` pipeline with autotuning off (fixed buffers need none)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CORPUS_PATH = DATA_DIR / "corpus" / "tiny_world.txt"


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list


def load_breast_cancer_split(test_fraction: float = 0.25, seed: int = 0) -> Split:
    """Wisconsin breast-cancer data (569 × 30), stratified split, standardised with train statistics.

    Labels: 1 = benign, 0 = malignant (scikit-learn's coding). Features are
    float32 with zero mean and unit variance on the training split only, so
    nothing about the test split leaks into training.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=test_fraction, random_state=seed, stratify=data.target
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    scale = lambda x: ((x - mean) / std).astype(np.float32)  # noqa: E731
    return Split(scale(x_train), y_train.astype(np.float32), scale(x_test), y_test.astype(np.float32),
                 list(data.feature_names))


def make_2d_dataset(name: str, n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple:
    """``(x (n, 2) float32, y (n,) float32 in {0, 1})`` for ``name`` in xor, moons, circles, blobs.

    Only ``blobs`` is linearly separable; the other three need a non-linear boundary.
    """
    from sklearn.datasets import make_blobs, make_circles, make_moons

    rng = np.random.default_rng(seed)
    if name == "xor":
        x = rng.uniform(-1, 1, size=(n, 2))
        y = (x[:, 0] * x[:, 1] > 0).astype(int)
        x = x + rng.normal(0, noise, size=x.shape)
    elif name == "moons":
        x, y = make_moons(n, noise=noise, random_state=seed)
    elif name == "circles":
        x, y = make_circles(n, noise=noise, factor=0.5, random_state=seed)
    elif name == "blobs":
        x, y = make_blobs(n, centers=[(-1, -1), (1, 1)], cluster_std=0.5 + noise, random_state=seed)
    else:
        raise ValueError(f"unknown 2-D dataset {name!r}; choose one of xor, moons, circles, blobs")
    return x.astype(np.float32), y.astype(np.float32)


def load_text(path=None, min_chars: int = 2) -> str:
    """Read a UTF-8 text file (default: the course corpus) with clear errors for bad files.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` for a
    directory, an empty file, a file that is not UTF-8 (naming the byte
    offset) or one shorter than ``min_chars`` characters.
    """
    path = CORPUS_PATH if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"text file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a text file")
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError(f"{path} is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (invalid byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "re-save it as UTF-8"
        ) from None
    text = text.lstrip("\ufeff")  # a byte-order mark is not part of the text
    if len(text) < min_chars:
        raise ValueError(f"{path} has {len(text)} characters; at least {min_chars} are needed")
    return text


def corpus_info() -> dict:
    """Size and true entropy rate (nats/char) of the course corpus, from `data/make_corpus.py`."""
    return json.loads(CORPUS_PATH.with_suffix(".json").read_text(encoding="utf-8"))


def split_text(text: str, validation_fraction: float = 0.1) -> tuple:
    """``(train, validation)``: the last ``validation_fraction`` of the text, cut at a line start."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    cut = int(len(text) * (1 - validation_fraction))
    newline = text.find("\n", cut)
    if 0 <= newline < len(text) - 1:
        cut = newline + 1
    return text[:cut], text[cut:]


def without_autotune(dataset):
    """``dataset`` (a ``tf.data.Dataset``) with tf.data's autotuning turned off.

    A pipeline whose buffer sizes and parallelism are fixed (``prefetch(2)``, a
    sequential ``map``) has nothing to tune, and the autotuning costs time in
    TensorFlow 2.21: a thread runs beside every iterator, sleeping between
    tuning rounds for longer and longer periods, and deleting the iterator waits
    for the current sleep to end. ``model.fit`` deletes its iterator when it
    returns; on chapter 5's 20-second training run we measured ``fit`` returning
    1 to 23 s after its last step in 9 of 19 runs, and within 0.1 s in all 6 runs
    with autotuning off (``tests/test_ch05.py`` checks the option is set).
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
