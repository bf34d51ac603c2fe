"""nbgrader end to end with the shipped nbgrader_config.py: a course in a temporary folder, one
instructor notebook (chapter 07's exercise cells: its graded cell ends with hidden tests, plus a
graded cell holding only hidden tests), generate_assignment (no hidden test in the release), then
autograde of a correct, a stub, a wrong submission and one that only the hidden tests catch: full,
zero, zero and the hidden-only cell's point. Skipped without nbgrader."""
import json
import shutil
from pathlib import Path

import nbformat
import pytest

nbgrader = pytest.importorskip("nbgrader")

from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.apps import NbGraderAPI  # noqa: E402
from traitlets.config.loader import PyFileConfigLoader  # noqa: E402

from gantut import student  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Object of type:Warning")  # nbgrader's own SQLAlchemy notices

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "07_drs.ipynb"


def exercise_cells(path: Path, grade_id: str) -> list:
    """The solution cell ``grade_id`` and its graded cell ``test_<grade_id>``, read from a chapter."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in (grade_id, f"test_{grade_id}")]
    assert len(cells) == 2, [c.metadata.get("nbgrader") for c in cells]
    return cells


def instructor_notebook() -> nbformat.NotebookNode:
    setup = nbformat.v4.new_code_cell("import torch\nfrom gantut import grading")
    solution, graded = exercise_cells(CHAPTER, "acceptance_probability")
    hidden = nbformat.v4.new_code_cell(
        "### BEGIN HIDDEN TESTS\ngrading.check_acceptance_probability(acceptance_probability)\n### END HIDDEN TESTS",
        metadata={"nbgrader": {"schema_version": 3, "grade_id": "hidden_acceptance", "grade": True,
                               "solution": False, "locked": True, "task": False, "points": 1}})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# DRS exercise"), setup, solution, graded,
                                         hidden])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


def _load_config(course: Path):
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(course))
    config = loader.load_config()
    config.CourseDirectory.root = str(course)
    return config


def test_generate_and_autograde_a_course(tmp_path, monkeypatch):
    course = tmp_path / "course"
    (course / "source" / "ps07").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    nbformat.write(instructor_notebook(), course / "source" / "ps07" / "drs.ipynb")
    monkeypatch.chdir(course)
    monkeypatch.setenv("GANTUT_PROFILE", "smoke")
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    config = _load_config(course)
    assert config.Execute.timeout == 300
    api = NbGraderAPI(config=config)

    result = api.generate_assignment("ps07")
    assert result["success"], result.get("log")
    release = nbformat.read(course / "release" / "ps07" / "drs.ipynb", as_version=4)
    text = json.dumps(release)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in release.cells}
    assert "raise NotImplementedError()" in by_id["acceptance_probability"].source
    instructor_test = exercise_cells(CHAPTER, "acceptance_probability")[1].source
    assert "### BEGIN HIDDEN TESTS" in instructor_test  # the chapter's own hidden tests ...
    assert by_id["test_acceptance_probability"].source == instructor_test.split("### BEGIN HIDDEN TESTS")[0].rstrip()
    assert by_id["hidden_acceptance"].source == student.HIDDEN_TESTS_NOTICE  # the student sees the notice

    def submit(who: str, solution_source: str | None):
        nb = nbformat.read(course / "release" / "ps07" / "drs.ipynb", as_version=4)
        if solution_source is not None:
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "acceptance_probability")
            cell.source = solution_source
        dst = course / "submitted" / who / "ps07" / "drs.ipynb"
        dst.parent.mkdir(parents=True)
        nbformat.write(nb, dst)
        (dst.parent / "timestamp.txt").write_text("2024-01-01 12:00:00.000000 UTC")

    correct = exercise_cells(CHAPTER, "acceptance_probability")[0].source
    submit("alice", correct)  # the chapter's own solution
    submit("bob", None)  # the stub, untouched
    submit("carol", correct.replace("torch.sigmoid(F_hat)", "F_hat"))  # forgot σ
    submit("dave", correct.replace("torch.sigmoid(F_hat)", "1 - torch.sigmoid(-F_hat)"))  # passes the visible check
    assert "F_hat" in correct and "torch.sigmoid(F_hat)" in correct

    scores = {}
    for who in ("alice", "bob", "carol", "dave"):
        res = api.autograde("ps07", who)
        assert res["success"], res.get("log")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for who in ("alice", "bob", "carol", "dave"):
            sub = gb.find_submission("ps07", who)
            scores[who] = (sub.score, sub.max_score)
    assert scores["alice"] == (4.0, 4.0), scores
    assert scores["bob"] == (0.0, 4.0), scores
    assert scores["carol"] == (0.0, 4.0), scores
    assert scores["dave"] == (1.0, 4.0), scores  # ... put back by autograde: they fail dave's 1 − σ(−F̂)
    graded = nbformat.read(course / "autograded" / "dave" / "ps07" / "drs.ipynb", as_version=4)
    cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_acceptance_probability")
    assert cell.source == instructor_test
    (error,) = [o for o in cell.outputs if o.get("output_type") == "error"]
    assert error.ename == "AssertionError" and "not 1 − σ(−F̂)" in error.evalue
    # the autograded notebook restored the hidden tests and shows the checker's message
    graded = nbformat.read(course / "autograded" / "carol" / "ps07" / "drs.ipynb", as_version=4)
    errors = [o for c in graded.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors and all(o.ename == "GradingError" for o in errors)
    assert "σ(F̂)" in errors[0].evalue
    # feedback for the student: an HTML page per notebook, with the checker's message in it
    res = api.generate_feedback("ps07", "carol")
    assert res["success"], res.get("log")
    html = (course / "feedback" / "carol" / "ps07" / "drs.html").read_text()
    assert "GradingError" in html and "Score: 0.0 / 4.0" in html
