"""Measure the latent-space tools on a model (default: the shipped one) and draw the doc pictures.

    python scripts/benchmarks/bench_latent.py --out docs/latent        # CPU: about 10 minutes

1. Anomaly detection: ``molvae score`` on MOSES-test molecules (in domain) and on the NCI molecules
   that ship with RDKit (``rdkit/Data/NCI/first_5K.smi``, out of domain). AUROC of each score for
   telling NCI from MOSES, on the molecules the model can encode, and the count of NCI rows it
   cannot encode at all (those are out of domain by construction, so the AUROC is conservative).
2. Interpolation: 100 random pairs of MOSES-test molecules, 10 steps each, linear and spherical:
   share of valid decodings, distinct molecules per path, and smoothness: the mean absolute change
   of similarity-to-the-start between consecutive steps, and the share of steps on which that
   similarity does not rise (a smooth path moves away from the start monotonically).
3. Pictures: a latent map (PCA coloured by QED), generated vs MOSES-test property distributions,
   an interpolation grid between two drugs, and a neighbourhood grid around a lead.

Writes OUT/latent.json (every figure and the command), OUT/*.csv and OUT/*.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import rdkit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance
from molvae import properties as props
from molvae.api import MolVAE
from molvae.io import read_smiles, resolve_data_path
from molvae.plots import latent_map, molecule_grid, property_distributions
from molvae.space import reason_kind, auroc, explore, interpolate, score

NCI = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"
DRUGS = {"aspirin": "CC(=O)Oc1ccccc1C(=O)O", "paracetamol": "CC(=O)Nc1ccc(O)cc1",
         "ibuprofen": "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C"}


def anomaly(vae: MolVAE, n: int, k: int, out: Path) -> dict:
    moses = read_smiles(resolve_data_path("moses:test")).sample(n, random_state=0).tolist()
    nci = read_smiles(NCI).tolist()[:n]
    a = score(vae, moses, k=k, progress=True).assign(set="moses_test")
    b = score(vae, nci, k=k, progress=True).assign(set="nci")
    table = pd.concat([a, b], ignore_index=True)
    table.to_csv(out / "anomaly_scores.csv", index=False, float_format="%.5g")
    ok_a, ok_b = a[a.reason == ""], b[b.reason == ""]
    result = {"moses_test": len(a), "moses_test_scored": len(ok_a), "nci": len(b), "nci_scored": len(ok_b),
              "nci_rejected_by_reason": Counter(reason_kind(r) for r in b.reason[b.reason != ""]), "k": k}
    for col in ("nll", "nll_per_token", "neg_elbo"):
        result[f"auroc_{col}"] = auroc(ok_b[col], ok_a[col])
    result["auroc_recon_nll"] = auroc(ok_b.recon_nll, ok_a.recon_nll)
    # counting the unencodable NCI rows as detected (they cannot be from the training domain)
    result["auroc_nll_per_token_all_rows"] = auroc(b.nll_per_token, a.nll_per_token, unscored="detected")
    return result


def interpolation(vae: MolVAE, pairs: int, steps: int, out: Path) -> dict:
    test = read_smiles(resolve_data_path("moses:test")).sample(2 * pairs, random_state=1).tolist()
    rows = []
    for i in range(pairs):
        df = interpolate(vae, test[2 * i], test[2 * i + 1], steps=steps, method="both")
        rows.append(df.assign(pair=i))
    table = pd.concat(rows, ignore_index=True)
    table.to_csv(out / "interpolation_paths.csv", index=False, float_format="%.4g")
    result = {"pairs": pairs, "steps": steps}
    for method, part in table.groupby("method"):
        per_path = part.groupby("pair")
        jumps = per_path.sim_start.apply(lambda s: np.abs(np.diff(s.to_numpy())).mean())
        steady = per_path.sim_start.apply(lambda s: (np.diff(s.to_numpy()) <= 1e-9).mean())
        result[method] = {
            "valid": float(part.valid.mean()),
            "distinct_per_path": float(per_path.smiles.nunique().mean()),
            "new_per_path": float(per_path.new.sum().mean()),
            "mean_abs_step_change_in_sim_to_start": float(jumps.mean()),
            "share_of_steps_sim_to_start_non_increasing": float(steady.mean()),
        }
    return result


def pictures(vae: MolVAE, n_map: int, n_samples: int, out: Path) -> dict:
    test = read_smiles(resolve_data_path("moses:test")).sample(n_map, random_state=2).tolist()
    mu = vae.encode(test, errors="nan")
    ok = ~np.isnan(mu).any(axis=1)
    qed = props.compute([s for s, good in zip(test, ok) if good], ["qed"], workers=1).qed
    latent_map(mu[ok], out / "latent_map_qed.png", values=qed, label="QED",
               title=f"PCA of {int(ok.sum())} MOSES-test molecules, coloured by QED")
    samples = vae.sample(n_samples, seed=0)
    gen = props.compute(samples.smiles.tolist(), ["qed", "logp", "sa", "mw"], workers=1)
    ref = props.compute(test, ["qed", "logp", "sa", "mw"], workers=1)
    property_distributions({"generated": gen, "MOSES test": ref}, ["qed", "logp", "sa", "mw"],
                           out / "property_distributions.png")
    path = interpolate(vae, DRUGS["aspirin"], DRUGS["paracetamol"], steps=9, method="slerp")
    path.to_csv(out / "interpolation_aspirin_paracetamol.csv", index=False)
    molecule_grid(path.smiles.tolist(), out / "interpolation_aspirin_paracetamol.png", per_row=5,
                  legends=[f"t={t:.2f} sim {a:.2f}/{b:.2f}" for t, a, b in zip(path.t, path.sim_start, path.sim_end)])
    near = explore(vae, DRUGS["ibuprofen"], n=200, radius=2.0, seed=0)
    near.to_csv(out / "neighbourhood_ibuprofen.csv", index=False)
    top = near.head(15)
    molecule_grid(top.smiles.tolist(), out / "neighbourhood_ibuprofen.png", per_row=5,
                  legends=[f"sim {s:.2f} QED {q:.2f}" for s, q in zip(top.similarity, top.qed)])
    return {"map_molecules": int(ok.sum()), "neighbourhood_distinct": len(near)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", help="checkpoint (default: the shipped model)")
    ap.add_argument("-n", type=int, default=2000, help="molecules per set for the anomaly AUROC")
    ap.add_argument("-k", type=int, default=16, help="posterior draws per molecule for the scores")
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", default="runs/bench_latent")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vae = MolVAE.load(args.model, device="cpu")
    start = time.perf_counter()
    result = script_provenance(model=vae.path)
    result["interpolation"] = interpolation(vae, args.pairs, args.steps, out)
    print(json.dumps(result["interpolation"], indent=2), flush=True)
    result["pictures"] = pictures(vae, 3000, 3000, out)
    result["anomaly"] = anomaly(vae, args.n, args.k, out)
    print(json.dumps(result["anomaly"], indent=2), flush=True)
    result["seconds"] = round(time.perf_counter() - start, 1)
    (out / "latent.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {out}/latent.json and pictures")


if __name__ == "__main__":
    main()
