"""The hosted-install cell: the same in every chapter (the address is set once, in gantut.hosted), silent and
harmless where gantut is installed, and what IPython runs on a hosted runtime."""
import json
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from gantut import __version__, hosted

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_starts_with_the_hosted_cell(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = code[0]
    assert hosted.TAG_NAME in first["metadata"].get("tags", []), "run python scripts/sync_hosted_cell.py"
    assert "".join(first["source"]) == hosted.cell_source(), "run python scripts/sync_hosted_cell.py"
    assert first["outputs"] == []  # where gantut is installed it prints nothing
    assert sum(hosted.TAG_NAME in c["metadata"].get("tags", []) for c in code) == 1


def test_the_cell_pins_the_release_and_uses_pip_magic():
    src = hosted.cell_source()
    assert f"--branch v{__version__} {hosted.REPOSITORY}" in src and "%pip install" in src and "!pip" not in src
    python = TransformerManager().transform_cell(src)  # what IPython executes
    assert "run_line_magic('pip', 'install --quiet -e {GANTUT_HOME}')" in python
    assert "system('git clone --quiet --depth 1" in python


def run_cell() -> list:
    """Execute the hosted cell as IPython would, with shell commands and magics recorded instead of run."""
    calls = []

    class FakeIPython:
        def system(self, cmd):
            calls.append(cmd)

        def run_line_magic(self, name, line):
            calls.append((name, line))

    python = TransformerManager().transform_cell(hosted.cell_source())
    exec(compile(python, "<hosted cell>", "exec"), {"get_ipython": lambda: FakeIPython()})
    return calls


def test_the_cell_does_nothing_where_gantut_is_installed():
    assert run_cell() == []  # gantut is importable here: no clone, no install


def test_on_a_runtime_without_gantut_it_clones_the_tag_and_installs(monkeypatch, tmp_path):
    import importlib.util
    import sys

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gantut" else real_find_spec(name, *a))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert run_cell() == [f"git clone --quiet --depth 1 --branch {hosted.TAG} {hosted.REPOSITORY} {{GANTUT_HOME}}",
                     ("pip", "install --quiet -e {GANTUT_HOME}")]
    assert sys.path[0] == str(tmp_path / "gantut")
