"""Plotting helpers the chapters share (matplotlib, small figures)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from course.data import TranslationSplit
from tinyllm.autoencoders import IMAGE_SHAPE
from tinyllm.tokenizers import Vocabulary


def plot_decision_boundary(predict_proba, x, y, ax=None, title: str = "", resolution: int = 150):
    """Shade P(y=1 | x) of ``predict_proba`` over the plane and scatter the 2-D points ``x``."""
    ax = ax or plt.gca()
    pad = 0.3
    (x0, y0), (x1, y1) = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    p = np.asarray(predict_proba(grid)).reshape(gx.shape)
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.6)
    ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu", edgecolors="k", s=12, linewidths=0.4)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_curves(
    curves: dict, ax=None, xlabel: str = "step", ylabel: str = "loss", title: str = "", logy=False
):
    """One line per entry of ``curves`` (name -> sequence of values)."""
    ax = ax or plt.gca()
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_accuracy_by_length(results: dict, ax=None, metric: str = "exact_match", title: str = ""):
    """One line per model: ``results`` maps a label to an :func:`accuracy_by_length` dict."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    for label, by_length in results.items():
        ax.plot(by_length["length"], by_length[metric], marker="o", label=label)
    ax.set_xlabel("source length (words)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend()
    return ax


def prediction_table(split: TranslationSplit, predicted, vocab: Vocabulary, rows) -> str:
    """A plain-text table of source / reference / prediction / ✓ for the given row indices."""
    lines = []
    for i in rows:
        guess = vocab.decode(predicted[i])
        mark = "✓" if guess == split.references[i] else "✗"
        lines.append(
            f"{mark} [{split.source_lengths[i]:2d}] {split.sources[i]}\n"
            f"     reference:  {split.references[i]}\n     prediction: {guess}"
        )
    return "\n".join(lines)


def show_images(rows: dict, n: int = 10, title: str = ""):
    """One row of ``n`` 8×8 images per entry of ``rows`` (label -> (m, 64) array), labels on the
    left."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), n, figsize=(0.8 * n, 0.85 * len(rows) + 0.3), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        images = np.asarray(images)
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(IMAGE_SHAPE), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
