"""The latent space as a tool: embeddings written to files, interpolation between molecules,
neighbourhoods of a molecule, anomaly scores (how unlike the training data a molecule is), and the
collapse diagnostics of a model on molecules (:func:`diagnose`).

Every function takes a loaded :class:`molvae.api.MolVAE`. Rows that cannot be encoded are never
dropped silently: they come back with a reason (or in a rejects file beside the output). Where a
function takes many molecules, one SMILES string is one molecule (one row comes back).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from molvae import properties as props
from molvae.chem import as_smiles_list
from molvae.data import rejects_frame, sequential_batches
from molvae.errors import ConfigError, MolvaeError
from molvae.io import OUTPUT_EXTENSIONS, MoleculeWriter, output_format, output_stem, with_input_columns
from molvae.latent import active_units, collapse_diagnostics, kl_per_dimension

if TYPE_CHECKING:
    from molvae.api import MolVAE

# ----------------------------------------------------------------------------- embeddings

EMBEDDING_FORMATS = {".npy": "npy", ".parquet": "parquet", ".pq": "parquet"}  # and molvae.io's tables


def embedding_format(path: str | os.PathLike) -> str:
    """``npy`` or ``parquet`` (``.npy``, ``.parquet``/``.pq``), else ``csv``, ``tsv`` or ``sdf`` as
    :func:`molvae.io.output_format` says; anything else is a :class:`ConfigError` naming them all."""
    suffix = Path(path).suffix.lower()
    if suffix in EMBEDDING_FORMATS:
        return EMBEDDING_FORMATS[suffix]
    try:
        return output_format(path)
    except ConfigError:
        raise ConfigError(f"cannot tell the output format of {path} from its extension: name it .npy, .parquet, "
                          f"or {OUTPUT_EXTENSIONS}") from None


def rejects_path(path: str | os.PathLike) -> Path:
    """Where the rows an output could not hold are listed: ``OUT.rejects.csv`` beside ``OUT``."""
    return Path(path).with_name(f"{output_stem(path)}.rejects.csv")


class _EmbeddingWriter:
    """Writes encoded rows chunk by chunk to a temporary file, renamed into place on close; tables
    (CSV, TSV, SDF) through :class:`molvae.io.MoleculeWriter`."""

    def __init__(self, path: Path, n: int, dim: int, logvar: bool, columns: pd.DataFrame | None = None):
        self.path, self.fmt, self.logvar = path, embedding_format(path), logvar
        self.input_columns = columns
        self.tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        self.columns = [f"z_{i}" for i in range(dim)] + ([f"logvar_{i}" for i in range(dim)] if logvar else [])
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "npy":
            # Row i of the array is input row i; rows that could not be encoded stay NaN.
            self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=np.float32,
                                                   shape=(n, 2 * dim if logvar else dim))
            self.array[:] = np.nan
        elif self.fmt == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ConfigError("writing Parquet needs pyarrow (pip install pyarrow); or name the output .csv or .npy") from None
            self.writer = None
        else:
            self.table = MoleculeWriter(path, "smiles", float_format="%.6g").__enter__()

    def write(self, rows: np.ndarray, inputs: list[str], smiles: list[str], values: np.ndarray,
              extra: pd.DataFrame | None = None) -> None:
        """Encoded input `rows`: the `inputs` as given, their canonical `smiles`, `values` (z, logvar)
        and `extra` columns (e.g. in_domain) after the smiles."""
        if self.fmt == "npy":
            self.array[rows] = values
            return
        frame = pd.DataFrame(values, columns=self.columns)
        if extra is not None:
            frame = pd.concat([extra.reset_index(drop=True), frame], axis=1)
        frame.insert(0, "smiles", smiles)
        frame.insert(0, "input", inputs)
        frame.insert(0, "row", rows)
        if self.input_columns is not None:
            with_input_columns(frame, self.input_columns)
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.tmp, table.schema)
            self.writer.write_table(table)
        else:
            self.table.write(frame)

    def close(self, empty_extra: pd.DataFrame | None = None) -> None:
        """Finish the file (a table with no rows still gets its columns)."""
        nothing = np.zeros((0, len(self.columns)), np.float32)
        if self.fmt == "npy":
            self.array.flush()
            del self.array
            os.replace(self.tmp, self.path)
            return
        if (self.fmt == "parquet" and self.writer is None) or (self.fmt not in ("npy", "parquet") and not self.table.rows):
            self.write(np.zeros(0, np.int64), [], [], nothing, empty_extra)
        if self.fmt == "parquet":
            self.writer.close()
            os.replace(self.tmp, self.path)
        else:
            self.table.__exit__(None, None, None)

    def abandon(self) -> None:
        """Remove what was written (after a failure)."""
        if self.fmt not in ("npy", "parquet"):
            self.table.__exit__(RuntimeError, RuntimeError("abandoned"), None)
        self.tmp.unlink(missing_ok=True)


def encode_to_file(vae: "MolVAE", smiles: str | Sequence[str], path: str | os.PathLike, logvar: bool = False,
                   chunk: int = 50_000, batch_size: int = 1024, progress: bool = True, spellings: int = 0,
                   seed: int = 0, columns: pd.DataFrame | None = None) -> dict:
    """Posterior means (and log-variances with `logvar`) of every SMILES, written in chunks so that
    memory stays bounded by `chunk` rows whatever the input size.

    Tables (CSV, TSV, SDF, Parquet) hold ``row`` (the input row), the input's own `columns` (a
    :attr:`molvae.io.MoleculeFile.columns`, if given), ``input`` (the input as given), ``smiles``
    (the canonical SMILES of the molecule encoded: standardized when ``vae.standardize`` is set),
    ``in_domain`` and ``domain_note`` (see :class:`molvae.domain.Domain`) then ``z_0..``
    (``logvar_0..``) for each encoded row; NPY holds an (n_input, D) float32 array whose row i is
    input row i (NaN where it could not be encoded). Rows that cannot be encoded are listed with
    their reason (and their `columns`) in ``OUT.rejects.csv``. `spellings` > 0 averages each mean
    over that many random spellings too (see :meth:`MolVAE.encode`). Returns a summary: rows,
    encoded, rejected, reasons, out_of_domain (inputs, rejected ones included, outside the model's
    domain).
    """
    path = Path(path)
    smiles = as_smiles_list(smiles)
    domain = vae.domain
    writer = _EmbeddingWriter(path, len(smiles), vae.config.latent_dim, logvar, columns)
    rejected: list[tuple[int, str, str]] = []
    outside = 0
    try:
        with tqdm(total=len(smiles), desc="encode", unit="mol", disable=not progress) as bar:
            for start in range(0, len(smiles), chunk):
                part = smiles[start : start + chunk]
                mols = vae.prepare(part)
                mu, lv = vae.encode_set(mols, spellings=spellings, seed=seed, batch_size=batch_size)
                values = np.concatenate([mu, lv], axis=1) if logvar else mu
                marks = domain.mark(part, mols)
                outside += int((~marks.in_domain).sum())
                writer.write(start + mols.rows, [part[r] for r in mols.rows], list(mols.smiles), values, marks.iloc[mols.rows])
                rejected += [(start + int(r.row), r.input, r.reason) for r in mols.rejects.itertuples()]
                bar.update(len(part))
        writer.close(empty_extra=domain.mark([], None))
    except BaseException:
        writer.abandon()
        raise
    rejects = rejects_frame(rejected)
    if columns is not None:
        with_input_columns(rejects, columns)
    rejects.to_csv(rejects_path(path), index=False)
    return {"rows": len(smiles), "encoded": len(smiles) - len(rejects), "rejected": len(rejects),
            "reasons": dict(Counter(reason_kind(r) for r in rejects.reason)), "out_of_domain": outside}


def reason_kind(reason: str) -> str:
    """The kind of a rejection reason (its text before the first colon, numbers as N), for summaries."""
    return re.sub(r"\d+", "N", reason.split(":", 1)[0].strip())


# ----------------------------------------------------------------------------- interpolation

INTERPOLATIONS = ("linear", "slerp")


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation from `a` to `b` at fractions `t` (White 2016): keeps the norm typical
    of Gaussian points, where a straight line passes through the low-density centre."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = math.acos(min(max(cos, -1.0), 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)


def interpolate(vae: "MolVAE", start: str, end: str, steps: int = 10, method: str = "slerp") -> pd.DataFrame:
    """Decode (greedily) `steps` + 1 evenly spaced points on the path between two molecules'
    posterior means. `method`: ``slerp``, ``linear`` or ``both``.

    One row per point: ``method, step, t, smiles, valid, new`` (a molecule met for the first time
    on this path, neither end's), ``sim_start`` and ``sim_end`` (Tanimoto, Morgan radius 2).
    ``df.attrs["unreconstructed"]`` lists the ends (``start``/``end``) that the model does not decode
    back to themselves: the path then begins or ends at another molecule. Each end is the molecule
    the model reads (:meth:`MolVAE.prepare`: standardized when ``vae.standardize`` is set).
    """
    if steps < 1:
        raise ConfigError(f"steps must be at least 1, got {steps}")
    methods = INTERPOLATIONS if method == "both" else (method,)
    if any(m not in INTERPOLATIONS for m in methods):
        raise ConfigError(f"unknown interpolation {method!r}; choose linear, slerp or both")
    mu = vae.encode([start, end])
    ends = vae.prepare([start, end]).smiles  # the molecules encoded (standardized if the model is set to)
    t = np.linspace(0.0, 1.0, steps + 1)
    frames = []
    for m in methods:
        z = slerp(mu[0], mu[1], t) if m == "slerp" else (1 - t)[:, None] * mu[0] + t[:, None] * mu[1]
        decoded = vae.decode(z.astype(np.float32), greedy=True)
        seen = set(ends)
        new = []
        for smi in decoded:
            new.append(bool(smi) and smi not in seen)
            seen.add(smi)
        frames.append(pd.DataFrame({
            "method": m, "step": np.arange(steps + 1), "t": t.round(6), "smiles": [s or "" for s in decoded],
            "valid": [bool(s) for s in decoded], "new": new,
            "sim_start": props.tanimoto(decoded, ends[0]), "sim_end": props.tanimoto(decoded, ends[1]),
        }))
    df = pd.concat(frames, ignore_index=True)
    first = frames[0]
    df.attrs["unreconstructed"] = [name for name, row, canon in (("start", 0, ends[0]), ("end", steps, ends[1]))
                                   if first.smiles.iloc[row] != canon]
    return df


# ----------------------------------------------------------------------------- neighbourhoods


def explore(vae: "MolVAE", smiles: str, n: int = 100, radius: float = 2.0, seed: int = 0,
            properties: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Molecules around one molecule: `n` points z = mu + radius / sqrt(D) * eps (eps ~ N(0, I), so
    points lie about `radius` from the posterior mean mu), each decoded greedily.

    Returns the distinct valid molecules, most similar first: ``smiles, similarity`` (Tanimoto to
    the start, Morgan radius 2), ``distance`` (the nearest latent point that gave it), ``count``
    (how many points gave it), ``is_start``, then the properties (default set; empty: none).
    """
    if n < 1 or not radius >= 0 or not math.isfinite(radius):  # `not >=` also refuses NaN
        raise ConfigError(f"need n >= 1 and a finite radius >= 0, got n={n}, radius={radius}")
    names = props.resolve(properties)
    mu = vae.encode([smiles])[0]
    dim = mu.shape[0]
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(n, dim, generator=gen).numpy()
    z = mu[None, :] + radius / math.sqrt(dim) * eps
    decoded = vae.decode(z.astype(np.float32), greedy=True)
    distance = np.linalg.norm(z - mu[None, :], axis=1)
    found = pd.DataFrame({"smiles": decoded, "distance": distance}).dropna()
    table = found.groupby("smiles", sort=False).agg(distance=("distance", "min"), count=("distance", "size")).reset_index()
    start = vae.prepare(smiles).smiles[0]  # the molecule encoded (standardized if the model is set to)
    table.insert(1, "similarity", props.tanimoto(table.smiles.tolist(), start))
    table["is_start"] = table.smiles == start
    table = table.sort_values(["similarity", "count"], ascending=False, kind="stable").reset_index(drop=True)
    if names:
        table = pd.concat([table, props.compute(table.smiles.tolist(), names, workers=1)], axis=1)
    return table


# ----------------------------------------------------------------------------- anomaly scores

_LOG_2PI = math.log(2 * math.pi)


def score(vae: "MolVAE", smiles: str | Sequence[str], k: int = 32, batch_size: int = 256, seed: int = 0,
          progress: bool = False) -> pd.DataFrame:
    """How unlike the training data each molecule is (higher = more unusual), in nats.

    One row per input, in order: ``row, input, canonical, tokens``; ``neg_elbo`` (reconstruction
    term averaged over the `k` posterior draws, plus the analytic KL); ``nll`` (an importance-
    weighted estimate of -log p(x) from `k` draws, Burda et al. 2016, tighter than the ELBO);
    ``nll_per_token``; ``recon_nll`` (-log p(x | z = posterior mean), the reconstruction
    probability in negative log space); ``reason`` (empty, or why the row could not be scored: such
    rows have NaN scores). Every score is in nats and runs the same way: higher = less like the
    training data.
    """
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    smiles = as_smiles_list(smiles)
    mols = vae.prepare(smiles, progress=progress)
    n = len(smiles)
    cols = {c: np.full(n, np.nan) for c in ("neg_elbo", "nll", "recon_nll")}
    tokens = np.zeros(n, dtype=np.int64)
    gen = torch.Generator(device=vae.device).manual_seed(seed)
    model = vae.model
    model.eval()
    with tqdm(total=len(mols), desc="score", unit="mol", disable=not progress) as bar:
        for idx in sequential_batches(len(mols), batch_size):
            b = mols.collate(idx)
            toks, lens = b["tokens"].to(vae.device), b["lengths"]
            with torch.no_grad(), vae.autocast():
                mu, logvar = (t.float() for t in model.encode(toks, lens))
                std = torch.exp(0.5 * logvar)
                rows = len(idx)
                eps = torch.randn(k, rows, mu.shape[1], generator=gen, device=vae.device)
                z = mu + std * eps  # (k, rows, D)
                # several draws per decoder pass, at most ~2,048 sequences at once (memory grows with it)
                group = max(1, 2048 // rows)
                ll = torch.cat([
                    model.log_likelihood(toks.repeat(len(zg), 1), lens.repeat(len(zg)), zg.reshape(-1, zg.shape[-1])).view(len(zg), rows)
                    for zg in z.split(group)])
                log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)
                log_qz = -0.5 * (eps.pow(2) + _LOG_2PI + logvar).sum(-1)
                kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
                log_px = torch.logsumexp(ll + log_pz - log_qz, dim=0) - math.log(k)
                recon = model.log_likelihood(toks, lens, mu)
            at = mols.rows[idx]
            cols["neg_elbo"][at] = (kl - ll.mean(0)).cpu().numpy()
            cols["nll"][at] = (-log_px).cpu().numpy()
            cols["recon_nll"][at] = -recon.cpu().numpy()
            tokens[at] = lens.numpy()
            bar.update(rows)
    canonical = [""] * n
    for row, canon in zip(mols.rows, mols.smiles):
        canonical[row] = canon
    reasons = dict(zip(mols.rejects["row"], mols.rejects["reason"]))
    frame = pd.DataFrame({"row": np.arange(n), "input": smiles, "canonical": canonical, "tokens": tokens, **cols})
    frame["nll_per_token"] = frame.nll / frame.tokens.where(frame.tokens > 0)
    frame["reason"] = [reasons.get(i, "") for i in range(n)]
    return frame[["row", "input", "canonical", "tokens", "neg_elbo", "nll", "nll_per_token", "recon_nll", "reason"]]


def auroc(positive: Sequence[float], negative: Sequence[float], unscored: str = "drop") -> float:
    """Area under the ROC curve for telling `positive` scores (should be higher) from `negative`
    ones: the probability that a random positive outranks a random negative (ties count half).

    `unscored` says what a NaN (a row that could not be scored, e.g. rejected) means: ``"drop"``
    leaves it out, which flatters the AUROC when the rejected rows are the anomalies;
    ``"detected"`` counts a NaN positive as detected (above every score) and a NaN negative as a
    false alarm (also above every score). Report both."""
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if unscored not in ("drop", "detected"):
        raise ConfigError(f"unscored must be 'drop' or 'detected', got {unscored!r}")
    if unscored == "detected":
        pos, neg = np.nan_to_num(pos, nan=np.inf), np.nan_to_num(neg, nan=np.inf)
    pos, neg = pos[~np.isnan(pos)], neg[~np.isnan(neg)]
    if not len(pos) or not len(neg):
        raise MolvaeError("AUROC needs at least one score in each group")
    ranks = pd.Series(np.concatenate([pos, neg])).rank(method="average").to_numpy()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def diagnose(vae: "MolVAE", smiles: str | Sequence[str], batch_size: int = 1024) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Collapse diagnostics of `vae` on molecules: (figures, KL per dimension (D,), active-unit mask
    (D,)). Figures: KL, active units and fraction, dimensions over 0.1 nats, I(x; z), exact greedy
    reconstruction, molecules used."""
    mols = vae.prepare(smiles)
    if len(mols) == 0:
        raise MolvaeError("none of the molecules can be encoded by this model; see their reasons with molvae reconstruct")
    mu, logvar = vae.encode_set(mols, batch_size=batch_size)
    figures = collapse_diagnostics(mu, logvar)
    decoded = vae.decode(mu, greedy=True, batch_size=batch_size)
    figures["recon_exact"] = float(np.mean([d == c for d, c in zip(decoded, mols.smiles)]))
    return figures, kl_per_dimension(mu, logvar), active_units(mu)


def latent_coordinates(vae: "MolVAE", smiles: str | Sequence[str] | pd.Series, color: str = "qed",
                       method: str = "pca", progress: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """A 2-D map of molecules' posterior means: (table, means). The table has a row per encodable
    input (``row`` its input row or Series index, the ``input`` as given, the canonical ``smiles``
    of the molecule encoded, ``x``, ``y``, and the property `color` unless it is ``"none"``); the
    means are (len(table), latent_dim). Projection: PCA, or UMAP with umap-learn. `progress`: a
    progress bar while the molecules are read."""
    from molvae.plots import project_2d

    index = smiles.index if isinstance(smiles, pd.Series) else None
    smiles = as_smiles_list(smiles)
    index = index if index is not None else pd.RangeIndex(len(smiles))
    mols = vae.prepare(smiles, progress=progress)
    mu, _ = vae.encode_set(mols)
    xy = project_2d(mu, method)
    table = pd.DataFrame({"row": np.asarray(index)[mols.rows], "input": [smiles[r] for r in mols.rows],
                          "smiles": mols.smiles, "x": xy[:, 0], "y": xy[:, 1]})
    if color != "none":
        table[color] = props.compute(mols.smiles, [color], workers=1)[color].to_numpy()
    return table, mu
