"""Write (and optionally run) the notebooks in notebooks/ from the cell texts below.

    python scripts/release/build_notebooks.py             # write notebooks/*.ipynb without outputs
    python scripts/release/build_notebooks.py --execute   # also run them (in notebooks/) and keep the outputs

The committed notebooks carry their outputs so that they read well on GitHub; images are PNG files
written by molvae.plots at a modest size. tests/integration/test_notebooks.py runs every notebook
top to bottom in a scratch folder, so a failing cell fails the suite.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"

SETUP = """\
from pathlib import Path

import pandas as pd
from IPython.display import Image, display

from molvae import MolVAE, plots, properties
from molvae.io import read_smiles, resolve_data_path
"""

QUICKSTART = [
    ("md", """\
# molvae quickstart: sample molecules from the shipped model

This notebook loads the sampling model that ships with molvae (trained on the MOSES training set; see
`docs/model_card.md`), samples new molecules from its prior, draws them, compares their properties
with held-out MOSES molecules and computes the MOSES generation metrics. It runs in about a minute
on a laptop CPU. Everything it makes is written to `results/01_quickstart/`."""),
    ("code", SETUP + """\
from molvae.metrics import evaluate, load_reference

OUT = Path("results/01_quickstart")
OUT.mkdir(parents=True, exist_ok=True)
N = 1000  # molecules to sample; the model card's figures use 30,000"""),
    ("md", """\
## Load the model
Three models ship with molvae (`molvae models` lists them): one whose samples are closest to the
data, which `molvae sample` uses, one for `molvae optimize`, and one that reconstructs molecules
best, which the latent tools use. `MolVAE.load(use="sample")` loads the first, `MolVAE.load()` the
last; pass a shipped model's name or the path of a checkpoint you trained to load that one."""),
    ("code", """\
vae = MolVAE.load(use="sample")
print(vae.meta["release"]["name"], "| trained on", vae.meta["data"]["n_train"], "molecules |", vae.config)"""),
    ("md", """\
## Sample
Each row is a latent code decoded into SELFIES and then SMILES. The shipped model draws its codes
from its code bank (the posteriors of 20,000 training molecules, each draw mu + W sigma eps around
one of them, W = `vae.prior.width`), where the decoder writes molecules closer to the data than from
N(0, I) (`vae.sample(N, prior="normal")`; docs/quality.md). SELFIES guarantees a valid molecule;
`raw_validity` is the share of draws that decoded to one before any redraw."""),
    ("code", """\
samples = vae.sample(N, seed=0)
samples.to_csv(OUT / "samples.csv", index=False)
print(f"{len(samples)} molecules, raw validity {samples.attrs['raw_validity']:.3f}, "
      f"{samples.smiles.nunique()} distinct, codes from: {samples.attrs['prior']['kind']} (width {vae.prior.width:g})")
samples.head()"""),
    ("md", """\
## Look at them
RDKit properties of every sample (QED, logP, SA score, molecular weight), and a grid of the first
fifteen with their QED."""),
    ("code", """\
names = ["qed", "logp", "sa", "mw"]
sample_props = properties.compute(samples.smiles, names)
table = pd.concat([samples[["smiles"]], sample_props.round(3)], axis=1)
table.to_csv(OUT / "samples_with_properties.csv", index=False)
first = table.head(15)
display(Image(plots.molecule_grid(first.smiles, OUT / "grid.png", size=200,
                                  legends=[f"QED {q:.2f}" for q in first.qed])))"""),
    ("md", """\
## Properties against the data
The same properties for as many held-out MOSES test molecules: a well-trained generator's
histograms lie on top of the data's."""),
    ("code", """\
test = read_smiles(resolve_data_path("moses:test")).sample(N, random_state=0)
test_props = properties.compute(test.tolist(), names)
display(Image(plots.property_distributions({"molvae samples": sample_props, "MOSES test": test_props},
                                           names, OUT / "property_distributions.png")))
pd.DataFrame({"samples (mean)": sample_props.mean(), "MOSES test (mean)": test_props.mean()}).round(3)"""),
    ("md", """\
## MOSES metrics
Validity, uniqueness, FCD, SNN, fragment and scaffold similarity, internal diversity and the
medicinal-chemistry filters, against the MOSES test set's stored statistics. Novelty needs the
canonical training set (several minutes to build once): `molvae evaluate samples.csv` computes it.
With only 1,000 samples FCD is biased upwards; the model card uses 30,000."""),
    ("code", """\
metrics = evaluate(samples.smiles.tolist(), {"Test": load_reference("moses:test", progress=False)}, progress=False)
metrics = pd.Series(metrics, name="value").round(3)
metrics.to_csv(OUT / "metrics.csv")
metrics.to_frame()"""),
]

TRAIN = [
    ("md", """\
# Train your own model

Train a small VAE on a CSV of SMILES, watch its losses, check that the latent space is in use (KL
per dimension, active units) and compare two KL-annealing choices. The bundled `moses:example` set
(2,000 MOSES training molecules) stands in for your own file: pass the path of any CSV with a
SMILES column instead. The models are tiny so that this runs in a minute on a CPU; the command line
equivalent is `molvae train --data my.csv --config my.toml`. Results go to `results/02_train/`."""),
    ("code", SETUP + """\
from molvae import load_config, train
from molvae.space import diagnose

OUT = Path("results/02_train")
OUT.mkdir(parents=True, exist_ok=True)
DATA = resolve_data_path("moses:example")  # your own CSV here
print(DATA, len(read_smiles(DATA)), "molecules")"""),
    ("md", """\
## A configuration
Defaults, then overrides, exactly as `molvae train --config` and flags resolve them. The printed
TOML is also saved with the run as `config.toml`."""),
    ("code", """\
tiny = {"data.train": str(DATA), "model.embed_dim": 32, "model.encoder_hidden": 64, "model.latent_dim": 16,
        "model.decoder_hidden": 128, "model.decoder_layers": 1, "train.epochs": 4, "train.batch_size": 64,
        "train.seed": 0, "anneal.warmup_epochs": 2}
config = load_config(overrides=tiny)
print(config.to_toml())"""),
    ("md", """\
## Train
`train` writes `log.csv`, `last.pt` (resume) and `best.pt` into the run folder and returns the path
of `best.pt`."""),
    ("code", """\
best = train(config, OUT / "recipe", progress=False)
log = pd.read_csv(OUT / "recipe" / "log.csv")
display(Image(plots.training_curves(log.to_dict("records"), OUT / "training_curves.png")))
log[["epoch", "train_recon", "train_kl", "train_beta", "val_recon", "val_kl", "val_active_units"]].round(3)"""),
    ("md", """\
## Is the latent space used?
A collapsed VAE decodes the same thing whatever z is: its KL is near zero and few dimensions are
*active* (their posterior mean varies across molecules). The bar chart shows the KL each dimension
carries on held-out molecules; grey bars are inactive dimensions. (A model this small, trained for a
minute on 1,900 molecules, reconstructs almost no molecule exactly; the shipped model saw 1.6 million
molecules for 11 epochs on a GPU.)"""),
    ("code", """\
heldout = read_smiles(resolve_data_path("moses:test")).head(500).tolist()
vae = MolVAE.load(best)
figures, kl, active = diagnose(vae, heldout)
display(Image(plots.kl_per_dimension_bar(kl, OUT / "kl_per_dim.png", active=active)))
pd.Series(figures).round(3).to_frame("value")"""),
    ("md", """\
## Annealing matters
The same model trained as a textbook VAE: full KL weight from the first step, no word dropout, no
free bits. Compare how much information the two latent spaces carry."""),
    ("code", """\
plain = load_config(overrides={**tiny, "anneal.schedule": "constant", "anneal.beta": 1.0,
                               "anneal.word_dropout": 0.0, "anneal.free_bits": 0.0})
plain_best = train(plain, OUT / "plain", progress=False)
plain_figures, plain_kl, plain_active = diagnose(MolVAE.load(plain_best), heldout)
compare = pd.DataFrame({"molvae recipe": figures, "β = 1, no annealing": plain_figures}).T
compare.to_csv(OUT / "annealing_comparison.csv")
keys = ["kl", "active_units", "mutual_info", "recon_exact"]
display(Image(plots.bar_panels(list(compare.index), [(k, compare[k].tolist()) for k in keys],
                               OUT / "annealing_comparison.png")))
compare[keys].round(3)"""),
]

LATENT = [
    ("md", """\
# The latent space

Encode molecules, map the latent space coloured by properties, walk between two drugs, look
around a lead molecule and flag molecules unlike the training data. Uses the shipped model of the
latent tools (`MolVAE.load()`: molvae-moses-v0.2.1, which reconstructs molecules best);
results go to `results/03_latent_space/`."""),
    ("code", SETUP + """\
from rdkit import RDConfig

from molvae import space

OUT = Path("results/03_latent_space")
OUT.mkdir(parents=True, exist_ok=True)
vae = MolVAE.load()"""),
    ("md", """\
## A map of the latent space
Posterior means of 2,000 held-out MOSES molecules, projected to two dimensions with PCA
(`method="umap"` with umap-learn installed), coloured by QED and by logP. The embeddings are saved
as a CSV a user can take elsewhere (`molvae encode` does the same from the command line)."""),
    ("code", """\
test = read_smiles(resolve_data_path("moses:test")).sample(2000, random_state=0).tolist()
z = vae.encode(test)
pd.DataFrame(z, columns=[f"z_{i}" for i in range(z.shape[1])]).assign(smiles=test).to_csv(OUT / "embeddings.csv", index=False)
test_props = properties.compute(test, ["qed", "logp"])
xy = plots.project_2d(z)
for name in ["qed", "logp"]:
    display(Image(plots.latent_map(z, OUT / f"map_{name}.png", values=test_props[name], label=name, xy=xy)))"""),
    ("md", """\
## Interpolating between two drugs
Spherical interpolation between the codes of two antidepressants, fluoxetine and sertraline, each
point decoded greedily; `new` marks a molecule met for the first time on the path. `sim_start` and
`sim_end` are Tanimoto similarities (Morgan, radius 2) to the two ends. Both drugs lie in the MOSES
range (250-350 Da) and are reconstructed exactly; much smaller drugs such as paracetamol are not,
because the model never saw molecules that small."""),
    ("code", """\
fluoxetine, sertraline = "CNCCC(Oc1ccc(C(F)(F)F)cc1)c1ccccc1", "CNC1CCC(c2ccc(Cl)c(Cl)c2)c2ccccc21"
path = space.interpolate(vae, fluoxetine, sertraline, steps=9)
path.to_csv(OUT / "interpolation.csv", index=False)
display(Image(plots.molecule_grid(path.smiles, OUT / "interpolation.png", size=180,
                                  legends=[f"t={t:.1f}" for t in path.t])))
path[["t", "smiles", "new", "sim_start", "sim_end"]].round(2)"""),
    ("md", """\
## Around a lead molecule
Points at a set distance from the lead's code, decoded; the distinct molecules are ranked by their
similarity to the lead. A small radius gives close analogues, a larger one more diverse ideas."""),
    ("code", """\
lead = "Cc1ccc(C(=O)NCC(=O)N2CCc3ccccc32)cc1C"
around = space.explore(vae, lead, n=200, radius=2.0, seed=0)
around.to_csv(OUT / "neighbourhood.csv", index=False)
shown = around.head(10)
display(Image(plots.molecule_grid(shown.smiles, OUT / "neighbourhood.png", size=180,
                                  legends=[f"sim {s:.2f}" for s in shown.similarity])))
print(len(around), "distinct molecules from 200 points")"""),
    ("md", """\
## Anomaly scores
How unlike the training data is a molecule? `space.score` estimates -log p(x) by importance
sampling; per token it is fair to long and short molecules alike. Held-out MOSES molecules
(in-domain) against molecules from the NCI set that ships with RDKit (out-of-domain); rows the
model cannot read at all (unknown atoms, too long) keep a reason instead of a score."""),
    ("code", """\
nci = read_smiles(Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi").head(200).tolist()
scores = pd.concat([space.score(vae, test[:200], k=8).assign(source="MOSES test"),
                    space.score(vae, nci, k=8).assign(source="NCI")], ignore_index=True)
scores.to_csv(OUT / "anomaly_scores.csv", index=False)
scored = scores.dropna(subset=["nll_per_token"])
print("rows the model cannot read:", scores.nll_per_token.isna().sum(), "(all from NCI:",
      (scores[scores.nll_per_token.isna()].source == "NCI").all(), ")")
auc = space.auroc(scored[scored.source == "NCI"].nll_per_token, scored[scored.source == "MOSES test"].nll_per_token)
auc_all = space.auroc(scores[scores.source == "NCI"].nll_per_token, scores[scores.source == "MOSES test"].nll_per_token,
                      unscored="detected")
print(f"AUROC of the per-token score, NCI vs MOSES: {auc:.3f} over the rows scored, "
      f"{auc_all:.3f} counting the rows the model cannot read as detected")
display(Image(plots.property_distributions({s: g for s, g in scored.groupby("source")}, ["nll_per_token"],
                                           OUT / "anomaly_scores.png")))"""),
]

OPTIMIZE = [
    ("md", """\
# Property optimization in the latent space

Start from a lead molecule and look for molecules with a higher QED that stay similar to it
(Tanimoto at least 0.4). Two optimizers search the latent space with the same budget of oracle
calls (RDKit evaluations); every proposal is re-scored by RDKit. The command line equivalent is
`molvae optimize spec.toml` (see `docs/optimize.md`). Results go to `results/04_optimization/`."""),
    ("code", SETUP + """\
from molvae.optimize import Constraints, Objective, SearchConfig, Term, optimize, summary

OUT = Path("results/04_optimization")
OUT.mkdir(parents=True, exist_ok=True)
vae = MolVAE.load(use="optimize")  # the shipped model that optimization does best with (docs/optimize.md)
BUDGET = 150  # oracle calls per optimizer; raise it for real work"""),
    ("md", """\
## The goal
Maximize QED subject to similarity >= 0.4 to the lead. A proposal that breaks a constraint still
costs a call but is not feasible."""),
    ("code", """\
lead = "CCOC(=O)c1ccc(NC(=O)CSc2nnc(-c3ccncc3)n2CC)cc1"
print("lead QED:", round(properties.qed(lead), 3))
objective = Objective([Term("qed")], Constraints(similarity_min=0.4))  # similarity to the search's start"""),
    ("md", """\
## Two optimizers, same budget
CMA-ES (a robust black-box evolution strategy) and gradient ascent on a learned surrogate with a
prior penalty (LIMO-style). The plot shows the best feasible QED found against oracle calls."""),
    ("code", """\
runs = {}
for method in ["cmaes", "gradient"]:
    runs[method] = optimize(vae, objective, SearchConfig(method=method, budget=BUDGET, seed=0, start=lead))
    runs[method].to_csv(OUT / f"proposals_{method}.csv", index=False)
    print(method, summary(runs[method])["top1"])
display(Image(plots.score_vs_calls(runs, OUT / "score_vs_calls.png", title=f"QED, similarity >= 0.4, {BUDGET} calls")))"""),
    ("md", """\
## The best proposals
The feasible molecules with the highest QED from both runs, with their RDKit-verified properties
and similarity to the lead."""),
    ("code", """\
found = pd.concat(runs.values(), ignore_index=True)
best = (found[found.feasible].sort_values("score", ascending=False).drop_duplicates("smiles").head(8))
best = pd.concat([best[["method", "call", "smiles", "similarity"]].reset_index(drop=True),
                  properties.compute(best.smiles, ["qed", "logp", "sa", "mw"])], axis=1)
best.to_csv(OUT / "best_proposals.csv", index=False)
display(Image(plots.molecule_grid([lead] + best.smiles.tolist(), OUT / "best_proposals.png", size=180,
                                  legends=["lead"] + [f"QED {q:.2f}, sim {s:.2f}" for q, s in zip(best.qed, best.similarity)])))
best.round(3)"""),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_train_your_own.ipynb": TRAIN,
    "03_latent_space.ipynb": LATENT,
    "04_optimization.ipynb": OPTIMIZE,
}


def build(name: str, cells) -> "object":
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> None:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--execute", action="store_true", help="run each notebook in notebooks/ and keep its outputs")
    parser.add_argument("names", nargs="*", help="only these notebooks (file names)")
    args = parser.parse_args()
    for name, cells in NOTEBOOKS.items():
        if args.names and name not in args.names:
            continue
        nb = build(name, cells)
        if args.execute:
            from nbclient import NotebookClient

            NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NB_DIR)}}).execute()
        for i, cell in enumerate(nb.cells):  # stable ids keep the diffs small
            cell["id"] = f"cell-{i}"
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, NB_DIR / name)
        print("wrote", NB_DIR / name)


if __name__ == "__main__":
    main()
