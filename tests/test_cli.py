"""The gantut command, run in-process on a folder of tiny chapters (two of them really execute)."""
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from gantut import cli

RING = """\
import json, os, pathlib
result = steps * 2
assert steps >= 0, "steps must be >= 0"
if out_dir:
    d = pathlib.Path(out_dir)
    (d / "figures").mkdir(exist_ok=True)
    (d / "figures" / "ring.png").write_bytes(b"png")
    metrics = {"result": result, "name": name, "profile": os.environ["GANTUT_PROFILE"], "cwd": os.getcwd()}
    (d / "metrics.json").write_text(json.dumps(metrics))
"""


def _notebook(title, params, body):
    cells = [new_markdown_cell(f"Intro\n\n# {title}\n\nText.")]
    if params is not None:
        cells.append(new_code_cell(params, metadata={"tags": ["parameters"]}))
    cells.append(new_code_cell(body))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


@pytest.fixture
def notebooks(tmp_path, monkeypatch):
    d = tmp_path / "notebooks"
    d.mkdir()
    nbformat.write(_notebook("Ring: the vanilla GAN", 'steps = 3\nname = "ring"\nout_dir = None', RING),
                   d / "01_ring.ipynb")
    nbformat.write(_notebook("02 — Other", "lr = 0.1", "x = lr * 2"), d / "02_other.ipynb")
    nbformat.write(_notebook("No parameters", None, "pass"), d / "03_plain.ipynb")
    nbformat.write(_notebook("Scratch", None, "pass"), d / "scratch.ipynb")  # not a chapter
    monkeypatch.setenv("GANTUT_NOTEBOOKS", str(d))
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))
    return d


def _error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_list_shows_number_title_and_parameters(notebooks, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "01  Ring: the vanilla GAN" in out
    assert 'parameters: steps=3, name="ring", out_dir=None' in out
    assert "03  No parameters" in out and "scratch" not in out


@pytest.mark.parametrize("spec", ["01", "1", "01_ring", "ring", "01_ring.ipynb"])
def test_resolve_chapter_accepts_numbers_and_names(notebooks, spec):
    assert cli.resolve_chapter(spec) == notebooks / "01_ring.ipynb"


def test_notebooks_folder_as_argument(notebooks, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GANTUT_NOTEBOOKS")
    assert cli.main(["list"], notebooks=notebooks) == 0
    assert "02  Other" in capsys.readouterr().out


@pytest.mark.parametrize("raw, expected", [
    ("steps=5", ("steps", 5)), ("lr=2e-4", ("lr", 2e-4)), ("loss=hinge", ("loss", "hinge")),
    ("betas=(0.5, 0.999)", ("betas", (0.5, 0.999))), ("flag=True", ("flag", True)), ("s='a=b'", ("s", "a=b")),
])
def test_parse_param_literals_then_strings(raw, expected):
    assert cli.parse_param(raw) == expected


def test_run_executes_with_parameters_profile_and_out_dir(notebooks, tmp_path, capsys):
    assert cli.main(["run", "1", "--profile", "smoke", "-p", "steps=5", "-p", "name=grid"]) == 0
    out = capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs" / "01_ring").iterdir()
    assert run_dir.name.endswith("-smoke")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == {"result": 10, "name": "grid", "profile": "smoke", "cwd": str(notebooks)}
    assert (run_dir / "figures" / "ring.png").exists() and (run_dir / "01_ring.ipynb").exists()
    assert str(run_dir / "01_ring.ipynb") in out and str(run_dir / "metrics.json") in out


def test_run_kernel_prints_no_transport_warning(notebooks, tmp_path, capfd):
    """The kernel runs over IPC sockets, so ipykernel's "running over TCP without encryption" warning (which
    the kernel process writes to the terminal, fd 2) does not appear; the sockets' folder is removed after."""
    assert cli.main(["run", "02", "--profile", "smoke", "--out", str(tmp_path / "here")]) == 0
    err = capfd.readouterr().err
    assert "without encryption" not in err and "IPKernelApp" not in err


def test_run_passes_out_dir_only_when_declared(notebooks, tmp_path, capsys):
    assert cli.main(["run", "02", "--profile", "smoke", "--out", str(tmp_path / "here")]) == 0
    nb = nbformat.read(tmp_path / "here" / "02_other.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected == [] or "out_dir" not in injected[0].source
    assert "(none written)" in capsys.readouterr().out


def test_failing_cell_is_reported_without_traceback(notebooks, tmp_path, capsys):
    assert cli.main(["run", "01", "--profile", "smoke", "-p", "steps=-1", "--out", str(tmp_path / "x")]) == 1
    err = _error(capsys)
    assert "AssertionError: steps must be >= 0" in err and str(tmp_path / "x" / "01_ring.ipynb") in err


def test_unknown_chapter_lists_the_known_ones(notebooks, capsys):
    assert cli.main(["run", "7"]) == 1
    err = _error(capsys)
    assert "unknown chapter '7'" in err and "01_ring, 02_other, 03_plain" in err


def test_unknown_parameter_lists_the_declared_ones(notebooks, capsys):
    assert cli.main(["run", "01", "--profile", "smoke", "-p", "lr=1"]) == 1
    err = _error(capsys)
    assert "no parameter 'lr'" in err and "steps, name, out_dir" in err


def test_parameter_for_a_notebook_without_parameters_cell(notebooks, capsys):
    assert cli.main(["run", "03", "--profile", "smoke", "-p", "a=1"]) == 1
    assert "no cell tagged `parameters`" in _error(capsys)


def test_malformed_parameter_says_name_equals_value(notebooks, capsys):
    assert cli.main(["run", "01", "--profile", "smoke", "-p", "steps"]) == 1
    assert "expected name=value" in _error(capsys)


def test_unknown_profile_lists_the_profiles(notebooks, capsys):
    assert cli.main(["run", "01", "--profile", "fast"]) == 1
    assert "unknown profile 'fast'; use one of smoke, cpu, gpu" in _error(capsys)


def test_missing_notebooks_folder_names_the_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANTUT_NOTEBOOKS", str(tmp_path / "nope"))
    assert cli.main(["list"]) == 1
    assert "GANTUT_NOTEBOOKS" in _error(capsys)


def test_usage_errors_exit_2(capsys):
    assert cli.main([]) == 2
    assert "usage: gantut" in capsys.readouterr().err


def test_student_command_writes_student_versions(notebooks, tmp_path, capsys):
    pytest.importorskip("nbgrader")
    assert cli.main(["student", "02", "--out", str(tmp_path / "release")]) == 0
    assert (tmp_path / "release" / "02_other.ipynb").exists()
    assert "student version:" in capsys.readouterr().out


def test_run_inplace_refreshes_the_chapter_without_progress_bars(notebooks, tmp_path, capsys):
    nbformat.write(_notebook("Env", "x = 1", "import os\nprint(os.environ['GANTUT_PROGRESS'], os.environ['GANTUT_PROFILE'])"),
                   notebooks / "04_env.ipynb")
    assert cli.main(["run", "04", "--profile", "cpu", "--inplace"]) == 0
    nb = nbformat.read(notebooks / "04_env.ipynb", as_version=4)
    assert nb.cells[-1].outputs[0]["text"] == "off cpu\n"  # executed outputs written over the chapter
    assert "(in place)" in capsys.readouterr().out


def test_run_all_and_out_with_several_chapters(notebooks, tmp_path, capsys):
    assert cli.main(["run", "02", "03", "--out", str(tmp_path / "o"), "--profile", "smoke"]) == 1
    assert "--out names one run folder" in _error(capsys)
    assert cli.main(["run", "all", "--profile", "smoke", "-p", "steps=1"]) == 1  # 02 has no `steps`
    assert "02_other has no parameter 'steps'" in _error(capsys)


def test_tidy_outputs_merges_streams_and_collapses_progress_redraws(tmp_path):
    nb = _notebook("T", None, "pass")
    nb.cells[-1].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="bar  0%\r"),
        nbformat.v4.new_output("stream", name="stderr", text="bar 50%\rbar 100%\n"),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
    ]
    nb.metadata["widgets"] = {"state": {}}
    nbformat.write(nb, tmp_path / "t.ipynb")
    cli.tidy_outputs(tmp_path / "t.ipynb")
    out = nbformat.read(tmp_path / "t.ipynb", as_version=4)
    assert [o["text"] for o in out.cells[-1].outputs] == ["bar 100%\n", "done\n"]
    assert "widgets" not in out.metadata


def test_tidy_outputs_keeps_the_widget_state_an_output_shows(tmp_path):
    state = "application/vnd.jupyter.widget-state+json"
    nb = _notebook("T", None, "pass")
    nb.cells[-1].outputs = [nbformat.v4.new_output(
        "execute_result", data={"application/vnd.jupyter.widget-view+json": {"model_id": "m1", "version_major": 2},
                                "text/plain": "interactive(...)"})]
    nb.metadata["widgets"] = {state: {"state": {"m1": {"model_name": "VBoxModel"}}, "version_major": 2}}
    nbformat.write(nb, tmp_path / "t.ipynb")
    cli.tidy_outputs(tmp_path / "t.ipynb")
    assert "m1" in nbformat.read(tmp_path / "t.ipynb", as_version=4).metadata["widgets"][state]["state"]


def test_tidy_outputs_drops_progress_bar_lines_and_empty_stderr(tmp_path):
    nb = _notebook("T", None, "pass")
    nb.cells[-1].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="train: 100%|##########| 40/40 [00:01<00:00, 30.1it/s]\n"),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something real\n"),
    ]
    nbformat.write(nb, tmp_path / "t.ipynb")
    cli.tidy_outputs(tmp_path / "t.ipynb")
    outs = nbformat.read(tmp_path / "t.ipynb", as_version=4).cells[-1].outputs
    assert [(o["name"], o["text"]) for o in outs] == [("stdout", "done\n"), ("stderr", "UserWarning: something real\n")]


def test_run_writes_figures_and_metrics_into_the_run_folder(notebooks, tmp_path, capsys):
    nbformat.write(_notebook("Out", "x = 1", "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                             "import gantut\nfig = plt.figure(); plt.plot([0, 1]); plt.show()\n"
                             "gantut.save_metrics({'fid': 12.5, 'nan': float('nan')}, chapter='05')"),
                   notebooks / "05_out.ipynb")
    out = tmp_path / "run"
    assert cli.main(["run", "05", "--profile", "smoke", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fid"] == 12.5 and metrics["nan"] is None and metrics["chapter"] == "05"
    assert metrics["profile"] == "smoke" and metrics["threads"] >= 1
    assert list((out / "figures").glob("cell*.png")) and str(out / "metrics.json") in printed
