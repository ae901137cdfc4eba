"""Where in the latent space should `molvae sample` draw its codes from?

    python scripts/studies/study_code_prior.py                          # the shipped model, ~15 min on one core
    python scripts/studies/study_code_prior.py -m run/last.pt --widths 1 2 3 --out docs/bench/quality

The decoder writes MOSES-like molecules near the codes of training molecules and odd ones in the
holes between them, which N(0, I) visits. This study draws codes from the model's own
aggregate posterior instead: a bank of `--bank` training molecules is encoded once, and each draw
picks one of them at random and takes

    z = mu_i + w * sigma_i * eps,   eps ~ N(0, I)

for a width w (w = 1 is an exact draw from q(z | x_i); larger w reaches further from the training
molecule, trading closeness to the data for novelty). Rows:

- ``normal``: z ~ N(0, I), what `molvae sample` does;
- ``bank_w{w}``: the bank draws above, one row per `--widths`;
- ``slerp``: the spherical interpolation between two bank means at a uniform t in [0.25, 0.75]
  (new molecules between two training molecules rather than around one).

Each row decodes `-n` draws stochastically (temperature 1) and scores the molecules with the MOSES
metrics (FCD/Test, SNN/Test, Scaf/Test, Filters, novelty against all of MOSES-train, unique@10k,
mean SA), and, with ``--relax K``, the same draws decoded under SELFIES constraints relaxed by K
(the slips RDKit then refuses are discarded; ``relaxed_*`` columns), and, with ``--novel``, only the
molecules that are not in MOSES-train (``novel_*`` columns: what a filter dropping training
molecules would give, and the fraction of draws it would discard). The bank's molecules are drawn
from MOSES-train with `--seed`; novelty is judged against the whole of MOSES-train, so a draw that
decodes back to its bank molecule counts as not novel.

Rows are labelled with the model (`--label`) and merged into OUT/code_prior.csv after each row (a
row replaces the earlier one of the same model and source), with OUT/code_prior.json (command, settings, rows) and
OUT/code_prior.png: FCD/Test and Filters against novelty, one line per model, beside the MOSES
paper's VAE and CharRNN, and OUT/code_prior.md: the rows as a Markdown table. Each row's molecules go to OUT/code_prior_samples/LABEL_SOURCE.csv.gz.
``--report`` only redraws the figure from the CSV.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import save_results

METRICS = ("FCD/Test", "SNN/Test", "Scaf/Test", "Filters", "Novelty")
# the MOSES paper's table (30,000 samples; mean over seeds): novelty, FCD/Test, Filters
PEERS = {"MOSES VAE": (0.695, 0.099, 0.997), "MOSES CharRNN": (0.842, 0.073, 0.994)}


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Row-wise spherical interpolation between a and b (n, D) at t (n,); linear where they are parallel."""
    na, nb = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    cos = np.clip(((a / np.maximum(na, 1e-12)) * (b / np.maximum(nb, 1e-12))).sum(1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)
    t = t[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(omega)
        out = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / s
    linear = (1 - t) * a + t * b
    return np.where(s > 1e-6, out, linear).astype(np.float32)


def codes(source: str, n: int, mu: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """n latent codes (n, D) float32 for one row of the study."""
    d = mu.shape[1]
    if source == "normal":
        return rng.standard_normal((n, d)).astype(np.float32)
    pick = rng.integers(0, len(mu), n)
    if source == "slerp":
        other = rng.integers(0, len(mu), n)
        return slerp(mu[pick], mu[other], rng.uniform(0.25, 0.75, n))
    width = float(source.removeprefix("bank_w"))
    return (mu[pick] + width * sigma[pick] * rng.standard_normal((n, d))).astype(np.float32)


def decode(vae, z: np.ndarray, seed: int, batch: int = 1000) -> list[str]:
    """SELFIES strings decoded stochastically (temperature 1) from codes z."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    selfies: list[str] = []
    for start in range(0, len(z), batch):
        ids = vae.model.generate(torch.from_numpy(z[start: start + batch]), generator=gen)
        selfies += [vae.vocab.decode(row) for row in ids.numpy()]  # SMILES come later, under each row's constraints
    return selfies


def markdown(table: pd.DataFrame) -> str:
    """The rows as the Markdown table of docs/quality.md (each model's rows in order of width)."""
    cols = [("FCD/Test", 2), ("Filters", 3), ("SNN/Test", 3), ("Scaf/Test", 3), ("Novelty", 3), ("unique@10k", 4),
            ("mean_sa", 2), ("relaxed_discarded", 2), ("relaxed_FCD/Test", 2), ("relaxed_Filters", 3),
            ("relaxed_Novelty", 3)]
    head = ["model", "codes", "FCD/Test", "Filters", "SNN/Test", "Scaf/Test", "novelty", "unique@10k", "mean SA",
            "relaxed: discarded", "relaxed: FCD", "relaxed: Filters", "relaxed: novelty"]
    order = {"normal": -1.0, "slerp": 99.0}
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for label, rows in table.groupby("model", sort=False):
        rows = rows.assign(key=rows.source.map(lambda x: order[x] if x in order else float(x.removeprefix("bank_w"))))
        for _, r in rows.sort_values("key").iterrows():
            codes = {"normal": "N(0, I)", "slerp": "slerp between two bank means"}.get(
                r.source, f"bank, W = {r.source.removeprefix('bank_w')}")
            cells = [f"{r[c]:.{d}f}" if pd.notna(r.get(c)) else "" for c, d in cols]
            lines.append("| " + " | ".join([label, codes, *cells]) + " |")
    return "\n".join(lines) + "\n"


def figure(table: pd.DataFrame, path: Path) -> None:
    """FCD/Test and Filters against novelty: the bank widths of each model as a line, N(0, I) as a cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, peer_at in ((axes[0], "FCD/Test", 1), (axes[1], "Filters", 2)):
        for i, (label, rows) in enumerate(table.groupby("model", sort=False)):
            color = f"C{i}"
            bank = rows[rows.source.str.startswith("bank_w")].sort_values("Novelty")
            ax.plot(bank.Novelty, bank[metric], "o-", color=color, label=f"{label}: code bank, widths")
            for _, r in bank.iterrows():
                ax.annotate(r.source.removeprefix("bank_"), (r.Novelty, r[metric]), fontsize=7,
                            textcoords="offset points", xytext=(4, 3))
            for source, marker in (("normal", "x"), ("slerp", "s")):
                one = rows[rows.source == source]
                if len(one):
                    ax.plot(one.Novelty, one[metric], marker, color=color, ms=8, label=f"{label}: {source}")
        for j, (name, peer) in enumerate(PEERS.items()):
            ax.plot(peer[0], peer[peer_at], "*", color=f"C{7 + j}", ms=12, label=name)
        ax.set_xlabel("novelty (fraction not in MOSES-train)")
        ax.set_ylabel(metric + (" (log scale)" if metric == "FCD/Test" else ""))
        if metric == "FCD/Test":
            ax.set_yscale("log")
            ax.axhline(1.0, color="grey", ls=":", lw=1)
        else:
            ax.axhline(0.95, color="grey", ls=":", lw=1)
        ax.axvline(0.85, color="grey", ls=":", lw=1)
        ax.grid(alpha=0.3)
    axes[0].set_title("closer to the data (down) against new (right)", fontsize=9)
    axes[1].set_title("dotted: the sampling targets", fontsize=9)
    axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default=None, help=(
        "checkpoint or shipped model's name (default: the latent tools' shipped model, molvae-moses-v0.2.1, "
        "v0.2's weights)"))
    ap.add_argument("--label", default=None, help="the model's name in the table and figure (default: its release name)")
    ap.add_argument("--report", action="store_true", help="only redraw the figure from OUT/code_prior.csv")
    ap.add_argument("-n", type=int, default=10_000, help="draws per row")
    ap.add_argument("--bank", type=int, default=50_000, help="training molecules encoded into the bank")
    ap.add_argument("--widths", type=float, nargs="*", default=[1.0, 1.5, 2.0, 3.0],
                    help="widths w of the bank draws mu + w * sigma * eps")
    ap.add_argument("--no-slerp", action="store_true", help="skip the interpolation row")
    ap.add_argument("--no-normal", action="store_true", help="skip the N(0, I) row")
    ap.add_argument("--relax", type=int, default=1, help="also score the draws decoded under constraints relaxed by K (0: off)")
    ap.add_argument("--novel", action="store_true", help="also score only the molecules not in MOSES-train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="processes for the RDKit side of scoring")
    ap.add_argument("--out", default="docs/bench/quality", help="output folder")
    args = ap.parse_args()
    out = Path(args.out).expanduser()
    table_path = out / "code_prior.csv"
    if args.report:
        table = pd.read_csv(table_path)
        figure(table, out / "code_prior.png")
        (out / "code_prior.md").write_text(markdown(table))
        print(f"wrote {out / 'code_prior.png'} and {out / 'code_prior.md'}")
        return

    import torch

    from molvae.api import MolVAE
    from molvae.chem import decode_many, relaxed_constraints
    from molvae.data import canonical_set
    from molvae.io import read_smiles, resolve_data_path
    from molvae.metrics import evaluate, load_reference
    from molvae.properties import compute

    torch.set_num_threads(args.threads)
    vae = MolVAE.load(args.model, device="cpu", precision="fp32")
    label = args.label or vae.meta.get("release", {}).get("name") or Path(args.model).parent.name
    rng = np.random.default_rng(args.seed)
    train = read_smiles(resolve_data_path("moses:train"))
    bank = train.iloc[np.sort(rng.choice(len(train), size=min(args.bank, len(train)), replace=False))].tolist()
    started = time.perf_counter()
    mu, logvar = vae.encode_set(vae.prepare(bank))
    sigma = np.exp(0.5 * logvar)
    print(f"bank: {len(mu)} training molecules encoded in {time.perf_counter() - started:.0f} s", flush=True)
    refs = {"Test": load_reference("moses:test", workers=args.workers, progress=False)}
    train_set = canonical_set(resolve_data_path("moses:train"), workers=args.workers, progress=False)
    relaxed = relaxed_constraints(vae.constraints, args.relax) if args.relax else None

    def figures(smiles: list[str]) -> dict[str, float]:
        result = evaluate(smiles, refs, train_set, ks=(10_000,), workers=args.workers, progress=False)
        return {**{k: result[k] for k in METRICS}, "unique@10k": result["unique@10k"]}

    sources = ([] if args.no_normal else ["normal"]) + [f"bank_w{w:g}" for w in args.widths] + \
        ([] if args.no_slerp else ["slerp"])
    (out / "code_prior_samples").mkdir(parents=True, exist_ok=True)
    earlier = pd.read_csv(table_path) if table_path.is_file() else pd.DataFrame(columns=["model", "source"])
    rows = []
    for i, source in enumerate(sources):
        started = time.perf_counter()
        z = codes(source, args.n, mu, sigma, np.random.default_rng([args.seed, i]))
        selfies = decode(vae, z, seed=args.seed + i)
        smiles = [s for s in decode_many(selfies, vae.constraints) if s]
        row = {"model": label, "source": source, "draws": len(selfies), "valid": len(smiles) / len(selfies), **figures(smiles),
               "mean_sa": float(np.nanmean(compute(smiles, ["sa"], workers=args.workers)["sa"]))}
        if relaxed is not None:
            kept = [s for s in decode_many(selfies, relaxed) if s]
            row["relaxed_discarded"] = 1 - len(kept) / len(selfies)
            row.update({f"relaxed_{k}": v for k, v in figures(kept).items() if k in METRICS})
        if args.novel:
            novel = [s for s in smiles if s not in train_set]
            row["novel_discarded"] = 1 - len(novel) / len(selfies)
            row.update({f"novel_{k}": v for k, v in figures(novel).items()})
        pd.DataFrame({"smiles": smiles}).to_csv(out / "code_prior_samples" / f"{label}_{source}.csv.gz", index=False)
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
        print(pd.DataFrame([row]).round(4).to_string(index=False, header=len(rows) == 1), flush=True)
        # after every row, so that a stopped study keeps what it measured
        table = pd.concat([earlier[~((earlier.model == label) & earlier.source.isin(sources))], pd.DataFrame(rows)],
                          ignore_index=True)
        save_results(table, table_path, settings=vars(args))
    figure(table, out / "code_prior.png")
    (out / "code_prior.md").write_text(markdown(table))
    print(f"wrote {table_path}, its .json, {out / 'code_prior.png'} and {out / 'code_prior.md'}")


if __name__ == "__main__":
    main()
