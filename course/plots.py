"""Plotting helpers the chapters share (matplotlib, small figures)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


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


def plot_curves(curves: dict, ax=None, xlabel: str = "step", ylabel: str = "loss", title: str = "", logy=False):
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
