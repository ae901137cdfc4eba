"""The peer: the MOSES reference code (``molsets==0.3.1``), unpacked privately and patched.

The benchmark and comparison scripts use it; molvae itself never imports it. The wheel comes
from ``pip download --no-deps`` (or a path given), is unpacked once into molvae's cache folder and
patched for current RDKit, pandas, NumPy and PyTorch (the patches belong to the benchmarks).
``MOLSETS_CHECKOUT`` points at an already unpacked and patched copy (e.g. one carried to a
machine without network access).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

from molvae.cache import default_cache_dir

# Each patch: (file inside the wheel, old text, new text).
PATCHES = [
    ("moses/metrics/utils.py", "_mcf.append(_pains, sort=True)['smarts'].values",
     "pd.concat([_mcf, _pains], sort=True)['smarts'].values"),
    ("moses/metrics/utils.py", "np.NaN", "np.nan"),
    ("moses/metrics/SA_Score/sascorer.py", "from rdkit.six import iteritems", "iteritems = dict.items"),
    ("moses/metrics/NP_Score/npscorer.py", "from rdkit.six import iteritems", "iteritems = dict.items"),
    # torch >= 1.2 indexes only with boolean masks
    ("moses/vae/model.py", "eos_mask = torch.zeros(n_batch, dtype=torch.uint8,", "eos_mask = torch.zeros(n_batch, dtype=torch.bool,"),
]


def molsets_checkout(wheel: str | None) -> Path:
    """Unpack (and patch) the molsets 0.3.1 wheel once; returns the folder to put on sys.path."""
    if os.environ.get("MOLSETS_CHECKOUT"):
        return Path(os.environ["MOLSETS_CHECKOUT"])
    root = default_cache_dir() / "molsets-0.3.1-patched"
    if not (root / "moses" / "__init__.py").is_file():
        _unpack(root, wheel)
    for rel, old, new in PATCHES:  # idempotent: an older checkout gets newer patches
        path = root / rel
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new))
    return root


def _unpack(root: Path, wheel: str | None) -> None:
    if wheel is None:
        tmp = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "molsets==0.3.1", "-d", tmp],
                       check=True)
        wheel = str(next(Path(tmp).glob("molsets-0.3.1-*.whl")))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(root)


def import_moses_vae(checkout: Path):
    """The MOSES VAE modules (model, trainer, config), without running ``moses/__init__.py``, which
    imports the whole metrics stack; returns (VAE, VAETrainer, get_parser, OneHotVocab)."""
    if "moses" not in sys.modules:
        pkg = types.ModuleType("moses")
        pkg.__path__ = [str(checkout / "moses")]
        sys.modules["moses"] = pkg
    from moses.utils import OneHotVocab
    from moses.vae.config import get_parser
    from moses.vae.model import VAE
    from moses.vae.trainer import VAETrainer

    return VAE, VAETrainer, get_parser, OneHotVocab


def peer_training(smiles: list[str], device, wheel: str | None = None):
    """The MOSES VAE at its own defaults, ready to train on `smiles`: (model, trainer, loader,
    optimizer, config). Both benchmarks that train the peer start here."""
    from torch import optim

    VAE, VAETrainer, get_parser, _ = import_moses_vae(molsets_checkout(wheel))
    config = get_parser().parse_args([])  # the peer's defaults
    trainer = VAETrainer(config)
    model = VAE(trainer.get_vocabulary(smiles), config).to(device)
    loader = trainer.get_dataloader(model, smiles, shuffle=True)
    optimizer = optim.Adam(trainer.get_optim_params(model), lr=config.lr_start)
    return model, trainer, loader, optimizer, config
