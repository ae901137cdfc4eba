"""The notebooks run top to bottom on the shipped model, use only the public API, and match the
cell texts in scripts/release/build_notebooks.py (the one place they are edited)."""

import ast
import importlib.util
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "release" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_every_notebook_is_built_from_the_script():
    builder = _builder()
    assert sorted(builder.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        committed = nbformat.read(path, as_version=4)
        built = builder.build(path.name, builder.NOTEBOOKS[path.name])
        assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], (
            f"{path.name} differs from scripts/release/build_notebooks.py: run `python scripts/release/build_notebooks.py --execute`")


def test_notebooks_use_only_the_public_api():
    for path in NOTEBOOKS:
        for source in _code(nbformat.read(path, as_version=4)):
            for node in ast.walk(ast.parse(source)):
                names = []
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""] + [a.name for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.Attribute):
                    names = [node.attr]
                for name in names:
                    assert not any(part.startswith("_") for part in name.split(".")), f"{path.name}: private {name!r}"


def test_committed_outputs_are_small():
    for path in NOTEBOOKS:
        assert path.stat().st_size < 600_000, f"{path.name} is {path.stat().st_size} bytes: shrink its outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(path, work / path.name)
    # no per-cell time limit: a loaded machine makes cells slow, not wrong (the suite's own timeout still applies)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except CellExecutionError as exc:  # the failing cell's traceback is in the message
        pytest.fail(f"{path.name}: a cell failed\n{exc}")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    written = list((work / "results").rglob("*"))
    assert any(p.suffix == ".csv" for p in written) and any(p.suffix == ".png" for p in written), (
        f"{path.name} left no reusable results")


def test_a_failing_cell_fails(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")])
    with pytest.raises(CellExecutionError, match="boom"):
        NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
