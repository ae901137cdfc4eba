"""Export a trained checkpoint as a model shipped with molvae: half-precision weights, no
optimizer state, provenance kept and the name of the model card added. A code bank added by
`molvae fit-prior` is kept (already float16); exporting an earlier release records it as
``derived_from``.

    python scripts/release/export_pretrained.py RUN/best.pt molvae/pretrained/molvae-moses-v1.pt --name molvae-moses-v1

(a new shipped model is also named in molvae/shipped.py, with the work it is the default for)
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from molvae.checkpoint import load_checkpoint, save_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--name", required=True, help="release name recorded in the checkpoint")
    ap.add_argument("--card", default="docs/model_card.md", help="model card path recorded in the checkpoint")
    args = ap.parse_args()
    payload = load_checkpoint(args.checkpoint)
    state = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    meta = dict(payload["meta"])
    release = {"name": args.name, "card": args.card, "weights": "float16",
               "source_sha256": hashlib.sha256(Path(args.checkpoint).read_bytes()).hexdigest()}
    if "release" in meta:  # a release re-exported (e.g. with a code bank added by `molvae fit-prior`)
        earlier = meta["release"]
        release["derived_from"] = {k: earlier[k] for k in ("name", "source_sha256", "derived_from") if k in earlier}
    meta["release"] = release
    out = save_checkpoint(args.output, meta, state)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
