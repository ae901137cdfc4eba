"""Every picture molvae draws. Each function writes one PNG and returns its path (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; works without a display
    import matplotlib.pyplot as plt

    return plt


def kl_per_dimension_bar(kl: np.ndarray, path: str | Path, active: np.ndarray | None = None) -> Path:
    """Bar chart of the KL (nats) each latent dimension carries, sorted; active units in colour."""
    plt = _pyplot()
    order = np.argsort(kl)[::-1]
    colours = ["tab:blue" if active is None or active[i] else "tab:gray" for i in order]
    fig, ax = plt.subplots(figsize=(max(6, 0.12 * len(kl)), 3.5))
    ax.bar(range(len(kl)), kl[order], color=colours)
    ax.set_xticks(range(len(kl)), [f"z{i}" for i in order], rotation=90, fontsize=6)
    ax.set_ylabel("KL (nats)")
    title = f"KL per latent dimension, total {kl.sum():.1f} nats"
    if active is not None:
        title += f"; {int(active.sum())}/{len(kl)} active units (grey: inactive)"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def training_curves(history: Sequence[dict], path: str | Path) -> Path:
    """Per-epoch panels from a run's history (log.csv rows): reconstruction, KL, beta, active units."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    panels = [("reconstruction (nats)", ["train_recon", "val_recon"]), ("KL (nats)", ["train_kl", "val_kl"]),
              ("KL weight β", ["train_beta"]), ("active units", ["val_active_units"]),
              ("I(x; z) (nats)", ["val_mutual_info"]), ("exact reconstruction", ["val_recon_exact"])]
    panels = [(t, [k for k in keys if any(k in row for row in history)]) for t, keys in panels]
    panels = [(t, keys) for t, keys in panels if keys]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3))
    for ax, (title, keys) in zip(np.atleast_1d(axes), panels):
        for key in keys:
            ax.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", ms=3, label=key.split("_")[0])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        if len(keys) > 1:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def bar_panels(labels: Sequence[str], panels: Sequence[tuple[str, Sequence[float]]], path: str | Path) -> Path:
    """One bar chart per (title, values) side by side, bars labelled by `labels` (e.g. ablation variants)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.2))
    for ax, (title, values) in zip(np.atleast_1d(axes), panels):
        ax.bar(range(len(labels)), values, color="tab:blue")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
