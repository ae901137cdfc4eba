"""Export a trained checkpoint as a model shipped with molvae: half-precision weights, no
optimizer state, provenance kept and the name of the model card added. A code bank added by
`molvae fit-prior` is kept (already float16); exporting an earlier release records it as
``derived_from``. ``--domain-data`` records the property ranges of the training molecules in the
file (``meta["domain"]``, what ``molvae fit-prior`` records), so that encode and reconstruct mark
inputs outside them (``in_domain``); it re-records them for a release made before fit-prior did.

    python scripts/release/export_pretrained.py RUN/best.pt molvae/pretrained/molvae-moses-v1.pt --name molvae-moses-v1
    python scripts/release/export_pretrained.py OLD.pt NEW.pt --name molvae-moses-v1 --domain-data moses:train

(a new shipped model is also named in molvae/shipped.py, with the work it is the default for)
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from molvae.checkpoint import load_checkpoint, save_checkpoint
from molvae.domain import recorded_from
from molvae.io import read_molecules, resolve_data_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--name", required=True, help="release name recorded in the checkpoint")
    ap.add_argument("--card", default="docs/model_card.md", help="model card path recorded in the checkpoint")
    ap.add_argument("--domain-data", help="record the property ranges of these molecules (a file, or moses:train) "
                                           "as the model's domain, as molvae fit-prior does")
    ap.add_argument("--domain-size", type=int, default=20_000,
                    help="how many molecules of --domain-data, chosen as fit-prior chooses its bank (default: 20000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of that choice (default: 0)")
    args = ap.parse_args()
    payload = load_checkpoint(args.checkpoint)
    state = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    meta = dict(payload["meta"])
    source_sha256 = hashlib.sha256(Path(args.checkpoint).read_bytes()).hexdigest()
    release = {"name": args.name, "card": args.card, "weights": "float16", "source_sha256": source_sha256}
    earlier = meta.get("release")
    if earlier and earlier["name"] == args.name:  # the same release re-saved (e.g. its domain recorded)
        release.update({k: earlier[k] for k in ("source_sha256", "derived_from") if k in earlier})
        release["resaved_from_sha256"] = source_sha256
    elif earlier:  # a release re-exported (e.g. with a code bank added by `molvae fit-prior`)
        release["derived_from"] = {k: earlier[k] for k in ("name", "source_sha256", "derived_from") if k in earlier}
    meta["release"] = release
    if args.domain_data:
        smiles = read_molecules(resolve_data_path(args.domain_data)).smiles
        meta["domain"] = recorded_from(smiles, args.domain_size, args.seed, source=args.domain_data)
        print(f"domain: {meta['domain']}")
    out = save_checkpoint(args.output, meta, state)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
