"""``molvae models``: the models shipped with molvae, and which verbs use which by default."""

from __future__ import annotations

from molvae.cli.common import add_verb


def add_parsers(sub) -> None:
    p = add_verb(sub, "models", run_models, help="list the shipped models and which verbs use which", description=(
        "List the models that ship inside molvae: their names (for -m NAME), the verbs that load each one "
        "when -m is not given, their architecture and code bank, and their files."))
    p.set_defaults(verbs=sub.choices)  # every verb's parser, filled in by the time it runs


def run_models(args) -> int:
    from molvae.checkpoint import load_checkpoint
    from molvae.shipped import SHIPPED, defaults_of

    verbs = [verb for verb, parser in args.verbs.items() if parser.get_default("model_use")]
    for model in SHIPPED:
        uses = defaults_of(model.name)
        mine = [verb for verb in verbs if args.verbs[verb].get_default("model_use") in uses]
        print(f"{model.name}  (default for: {', '.join(mine) if mine else 'nothing; pick it with -m'})")
        print(f"    {model.summary}")
        if not model.path.is_file():
            print(f"    file missing: {model.path}")
            continue
        meta = load_checkpoint(model.path)["meta"]
        cfg, anneal = meta["model_config"], meta.get("run_config", {}).get("anneal", {})
        prior = meta.get("prior")
        bank = (f"code bank of {prior['size']:,} ({prior['source']}, width {prior['width']:g}, "
                f"temperature {prior.get('temperature', 1.0):g})" if prior else "N(0, I)")
        print(f"    latent {cfg['latent_dim']}, decoder {cfg['decoder_layers']} x {cfg['decoder_hidden']}, "
              f"beta {anneal.get('beta', '?')}; samples from: {bank}")
        print(f"    {model.path} ({model.path.stat().st_size / 1e6:.1f} MB); card: {meta.get('release', {}).get('card', '-')}")
    return 0
