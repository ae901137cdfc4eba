"""molvae embeddings in a scikit-learn pipeline against Morgan fingerprints, on the same splits.

    python scripts/benchmarks/bench_embedder.py [--n 5000] [--out docs/bench/embedder]

Predicts RDKit properties of N random MOSES-test molecules with a regressor on either
``MolVAEEmbedder`` (the shipped model's posterior means) or Morgan fingerprints (radius 2, 2048 bits),
5-fold cross-validated R² on the same folds. Prints a markdown table; writes OUT/embedder.csv and
OUT/embedder.json (provenance).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/harness.py, shared by the benchmarks and studies
from harness import script_provenance
from molvae import properties as props
from molvae.api import PRETRAINED
from molvae.io import read_smiles, resolve_data_path, write_json
from molvae.metrics import morgan_fingerprint
from molvae.sklearn import MolVAEEmbedder


def morgan(smiles) -> np.ndarray:
    from rdkit import Chem

    return np.stack([morgan_fingerprint(Chem.MolFromSmiles(s)) for s in smiles]).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="MOSES-test molecules (random, seeded)")
    ap.add_argument("--properties", default="logp,qed,tpsa,sa")
    ap.add_argument("--out", default="docs/bench/embedder")
    args = ap.parse_args()
    smiles = read_smiles(resolve_data_path("moses:test")).sample(args.n, random_state=0).tolist()
    y_all = props.compute(smiles, args.properties)
    featurizers = {
        "molvae embedding (64-d)": lambda: MolVAEEmbedder(),
        "Morgan r=2, 2048 bits": lambda: FunctionTransformer(morgan),
    }
    regressors = {
        "ridge": lambda: make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))),
        "random forest": lambda: RandomForestRegressor(n_estimators=100, max_features="sqrt", random_state=0, n_jobs=1),
    }
    folds = KFold(5, shuffle=True, random_state=0)
    rows = []
    for prop in y_all.columns:
        y = y_all[prop].to_numpy()
        for fname, featurizer in featurizers.items():
            for rname, regressor in regressors.items():
                start = time.perf_counter()
                scores = cross_val_score(make_pipeline(featurizer(), regressor()), smiles, y, cv=folds, scoring="r2")
                rows.append({"property": prop, "features": fname, "regressor": rname, "r2_mean": scores.mean(),
                             "r2_sd": scores.std(), "seconds": time.perf_counter() - start})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "embedder.csv", index=False)
    write_json(out / "embedder.json", script_provenance(model=PRETRAINED, n=args.n, rows=rows))
    wide = table.assign(cell=[f"{m:.3f} ± {s:.3f}" for m, s in zip(table.r2_mean, table.r2_sd)]).pivot_table(
        index=["property", "regressor"], columns="features", values="cell", aggfunc="first")
    try:
        print(wide.to_markdown())
    except ImportError:  # pandas' markdown needs tabulate
        print(wide.to_string())


if __name__ == "__main__":
    main()
