"""The graded cells of the chapters, without running the notebooks: each chapter's own solution cell
passes the checker its graded cell calls, and the stub nbgrader leaves in its place fails with
"not implemented". Also: every public checker restates a formula, and refuses gantut's own code."""
import inspect
import math
import re
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gantut import grading

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def graded_pairs():
    """(chapter, solution cell source, graded cell source) for every exercise of every chapter."""
    pairs = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
        for gid, cell in cells.items():
            meta = cell.metadata["nbgrader"]
            if meta.get("solution") and f"test_{gid}" in cells:
                pairs.append((f"{path.stem}:{gid}", cell.source, cells[f"test_{gid}"].source))
    return pairs


PAIRS = graded_pairs()


def _namespace():
    return {"torch": torch, "nn": nn, "F": F, "math": math, "grading": grading}


def _stub(source: str) -> str:
    """What nbgrader's ClearSolutions leaves: the solution region replaced by the stub."""
    return re.sub(r"(?m)^([ \t]*)### BEGIN SOLUTION\n.*?### END SOLUTION[^\n]*",
                  lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()",
                  source, flags=re.S)


def test_every_chapter_exercise_is_found():
    ids = {p[0].split(":")[1] for p in PAIRS}
    assert {"losses", "mode_stats", "course_G_bn", "gradient_penalty", "simplex_vertices", "mixture_likelihood",
            "unrolled_sgd_step", "r1_penalty", "acceptance_probability", "self_attention"} <= ids


@pytest.mark.parametrize("chapter,solution,graded", PAIRS, ids=[p[0] for p in PAIRS])
def test_the_chapter_solution_passes_its_graded_cell(chapter, solution, graded, capsys):
    ns = _namespace()
    exec(solution, ns)
    exec(graded, ns)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("chapter,solution,graded", PAIRS, ids=[p[0] for p in PAIRS])
def test_the_stub_fails_with_not_implemented(chapter, solution, graded):
    ns = _namespace()
    stubbed = _stub(solution)
    assert "raise NotImplementedError()" in stubbed and "BEGIN SOLUTION" not in stubbed
    exec(stubbed, ns)
    with pytest.raises(grading.GradingError, match="not implemented"):
        exec(graded, ns)


CHECKERS = [getattr(grading, n) for n in grading.__all__ if n.startswith("check_")
            and n not in ("check_close", "check_shape", "check_scalar", "check_callable")]


@pytest.mark.parametrize("checker", CHECKERS, ids=[c.__name__ for c in CHECKERS])
def test_every_checker_states_its_formula_and_keeps_its_signature(checker):
    assert len(checker.formula) > 30
    params = list(inspect.signature(checker).parameters)
    assert params[:2] == ["fn", "name"], params


@pytest.mark.parametrize("checker", CHECKERS, ids=[c.__name__ for c in CHECKERS])
def test_every_checker_refuses_gantut_code(checker):
    from gantut.grading import core
    with pytest.raises(grading.GradingError, match="gantut's own code"):
        checker(core._as_float)


@pytest.mark.parametrize("checker", CHECKERS, ids=[c.__name__ for c in CHECKERS])
def test_every_checker_wraps_a_raw_exception(checker):
    def crashes(*args, **kwargs):
        return {}["missing"]  # a KeyError inside the student's code

    with pytest.raises(grading.GradingError) as info:
        checker(crashes)
    msg = str(info.value)
    assert "raised KeyError" in msg and "in crashes, line" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__
