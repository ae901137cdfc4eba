"""Every picture molvae draws. Each function writes one PNG (a molecule grid also SVG) and returns
its path (matplotlib, Agg; molecules by RDKit)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; works without a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    """Lay out, write at 120 dpi and close a figure."""
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def kl_per_dimension_bar(kl: np.ndarray, path: str | Path, active: np.ndarray | None = None) -> Path:
    """Bar chart of the KL (nats) each latent dimension carries, sorted; active units in colour."""
    return _save(kl_per_dimension_figure(kl, active), path)


def kl_per_dimension_figure(kl: np.ndarray, active: np.ndarray | None = None):
    """The figure of :func:`kl_per_dimension_bar`, not saved (e.g. for TensorBoard)."""
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
    return fig


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
    return _save(fig, path)


def bar_panels(labels: Sequence[str], panels: Sequence[tuple[str, Sequence[float]]], path: str | Path) -> Path:
    """One bar chart per (title, values) side by side, bars labelled by `labels` (e.g. ablation variants)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.2))
    for ax, (title, values) in zip(np.atleast_1d(axes), panels):
        ax.bar(range(len(labels)), values, color="tab:blue")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def project_2d(z: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(n, D) points -> (n, 2): PCA (always available) or UMAP (needs umap-learn)."""
    z = np.asarray(z, dtype=np.float64)
    if method == "umap":
        try:
            import umap
        except ImportError:
            from molvae.errors import ConfigError

            raise ConfigError("method 'umap' needs umap-learn (pip install umap-learn); PCA needs nothing") from None
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(z)
    if method != "pca":
        from molvae.errors import ConfigError

        raise ConfigError(f"unknown projection {method!r}; choose pca or umap")
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    return np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))  # one molecule has one component: y = 0


def latent_map(z: np.ndarray, path: str | Path, values: Sequence[float] | None = None, label: str = "",
               method: str = "pca", title: str = "", xy: np.ndarray | None = None) -> Path:
    """Scatter of latent points projected to 2-D, coloured by `values` (e.g. a property); pass `xy`
    when the projection is already computed (UMAP is slow)."""
    plt = _pyplot()
    xy = project_2d(z, method) if xy is None else xy
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    kwargs = {"s": 6, "alpha": 0.7, "linewidths": 0}
    if values is None:
        ax.scatter(xy[:, 0], xy[:, 1], color="tab:blue", **kwargs)
    else:
        points = ax.scatter(xy[:, 0], xy[:, 1], c=np.asarray(values, float), cmap="viridis", **kwargs)
        fig.colorbar(points, ax=ax, label=label)
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_title(title or f"latent space ({len(xy)} molecules)", fontsize=10)
    return _save(fig, path)


def property_distributions(sets: dict[str, "object"], columns: Sequence[str], path: str | Path) -> Path:
    """One panel per property: the distribution of each named set (DataFrames with those columns),
    as overlaid density histograms, e.g. generated molecules against the training set."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3))
    for ax, col in zip(np.atleast_1d(axes), columns):
        data = [np.asarray(frame[col], float) for frame in sets.values()]
        data = [d[~np.isnan(d)] for d in data]
        joined = np.concatenate(data) if data else np.zeros(0)
        if not len(joined):
            continue
        lo, hi = np.percentile(joined, [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        for name, d in zip(sets, data):
            ax.hist(d, bins=bins, density=True, histtype="step", linewidth=1.5, label=f"{name} (n={len(d)})")
        ax.set_title(col, fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return _save(fig, path)


GRID_FORMATS = (".png", ".svg")


def grid_format(path: str | Path) -> str:
    """``.png`` or ``.svg``, the picture formats :func:`molecule_grid` writes; another name is a ConfigError."""
    suffix = Path(path).suffix.lower()
    if suffix not in GRID_FORMATS:
        from molvae.errors import ConfigError

        raise ConfigError(f"cannot tell the picture format of {path} from its extension: name it .png or .svg")
    return suffix


def molecule_grid(smiles: Sequence[str], path: str | Path, legends: Sequence[str] | None = None,
                  per_row: int = 5, size: int = 250) -> Path:
    """A grid of 2-D depictions (RDKit), `size` pixels square each, with a legend under each, as
    PNG or, when `path` ends in ``.svg``, SVG; unparsable entries are left blank. One string is one
    molecule."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    from molvae.chem import as_smiles_list, quiet_rdkit

    svg = grid_format(path) == ".svg"
    smiles = as_smiles_list(smiles)
    with quiet_rdkit():
        mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
    mols = [m if m is not None else Chem.Mol() for m in mols]
    legends = [str(x) for x in legends] if legends is not None else [""] * len(mols)
    image = Draw.MolsToGridImage(mols, molsPerRow=max(1, min(per_row, len(mols))), subImgSize=(size, size),
                                 legends=legends, returnPNG=False, useSVG=svg)
    if svg:
        Path(path).write_text(image)
    else:
        image.save(str(path))
    return Path(path)


def score_vs_calls(runs: dict[str, "object"], path: str | Path, title: str = "") -> Path:
    """Best feasible score so far against oracle calls, one line per run (tables from
    :func:`molvae.optimize.optimize`, with ``call`` and ``best_so_far`` columns)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, table in runs.items():
        if len(table):
            ax.step(table["call"], table["best_so_far"], where="post", label=label)
    ax.set_xlabel("oracle calls")
    ax.set_ylabel("best feasible score")
    ax.set_title(title or "optimization progress", fontsize=10)
    if len(runs) > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)
