"""The shell scripts that rebuild and continue the shipped models name the files that ship.

Both scripts name release files by hand; when a new sampling model replaces one in the package
they must follow, or a GPU window would continue a file that no longer exists. They are run here
without training anything: gpu_quality.sh by its own dry run, train_default.sh with a stand-in
``python`` that prints each command instead of running it.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

from molvae.shipped import DEFAULTS, SHIPPED, shipped_model

ROOT = Path(__file__).resolve().parents[2]

STUB = """#!/usr/bin/env bash
echo "python $*"
# make the folder each -o names, as the real command would, so that the script's `touch done` works
prev=""
for a in "$@"; do
  if [[ "$prev" == "-o" ]]; then case "$a" in *.pt|*.csv) mkdir -p "$(dirname "$a")";; *) mkdir -p "$a";; esac; fi
  prev="$a"
done
"""


def _train_commands(lines: list[str]) -> dict[str, list[str]]:
    """`molvae train` commands by their output folder's name."""
    runs = {}
    for line in lines:
        args = shlex.split(line)
        if args[:4] == ["python", "-m", "molvae", "train"]:
            runs[Path(args[args.index("-o") + 1]).name] = args
    return runs


def test_gpu_quality_continues_the_shipped_sampling_model(tmp_path):
    done = subprocess.run(["bash", "scripts/release/gpu_quality.sh"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DRY": "1", "OUT": str(tmp_path / "out")}, timeout=60)
    assert done.returncode == 0, done.stderr
    runs = _train_commands(done.stdout.splitlines())
    starts = {name: args[args.index("--init-from") + 1] for name, args in runs.items() if "--init-from" in args}
    for path in starts.values():  # every file a run starts from is in the package
        assert (ROOT / path).is_file(), f"gpu_quality.sh starts a run from {path}, which does not exist"
    sampling = shipped_model(DEFAULTS["sample"]).path.relative_to(ROOT).as_posix()
    assert sampling in starts.values(), f"no GPU run continues the sampling model {sampling}: {starts}"
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_train_default_rebuilds_and_measures_every_shipped_model(tmp_path):
    stub = tmp_path / "bin" / "python"
    stub.parent.mkdir()
    stub.write_text(STUB)
    stub.chmod(0o755)
    out = tmp_path / "runs"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "release" / "train_default.sh"), str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    exported = [re.search(r"--name (\S+)", line).group(1) for line in lines if "export_pretrained.py" in line]
    samples = [shlex.split(line)[4:] for line in lines if line.startswith("python -m molvae sample ")]
    measured = {Path(args[args.index("-m") + 1]).stem for args in samples}
    for model in SHIPPED:
        assert model.name in exported, f"train_default.sh does not rebuild {model.name}"
        assert model.name in measured, f"train_default.sh does not measure {model.name} for the card"
    # each stage that starts from earlier weights starts from a file an earlier line of the script made
    made = []
    for line in lines:
        args = shlex.split(line)
        if args[:4] == ["python", "-m", "molvae", "train"] and "--init-from" in args:
            start = args[args.index("--init-from") + 1]
            assert any(start == m or start.startswith(m + "/") for m in made), f"{start} is not made before it is used"
        if "export_pretrained.py" in line:
            made.append(args[3])
        elif "-o" in args:
            made.append(args[args.index("-o") + 1])
