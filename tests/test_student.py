"""Student versions: nbgrader strips the solutions, hidden tests and outputs; the stubs fail only
with NotImplementedError; the instructor version runs clean."""
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from gantut import student

try:
    import nbgrader  # noqa: F401
except ImportError:
    nbgrader = None
needs_nbgrader = pytest.mark.skipif(nbgrader is None, reason='pip install "gantut[instructor]"')


def _nbgrader(grade_id, *, solution=False, grade=False, points=None, locked=False):
    meta = {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": grade,
            "locked": locked}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def instructor_notebook():
    setup = new_code_cell('import os\nassert os.environ["GANTUT_PROFILE"] == "smoke"\nprint("ready")',
                          execution_count=1, outputs=[new_output("stream", name="stdout", text="ready\n")])
    answer = new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION",
                           metadata=_nbgrader("answer", solution=True))
    square = new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                           metadata=_nbgrader("square", solution=True))
    test_square = new_code_cell(
        "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
        metadata=_nbgrader("test_square", grade=True, points=2, locked=True))
    test_answer = new_code_cell("assert answer == 42", metadata=_nbgrader("test_answer", grade=True, points=1,
                                                                          locked=True))
    nb = new_notebook(cells=[new_markdown_cell("# 99 A tiny chapter"), setup, answer, square,
                             test_square, test_answer])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


@pytest.fixture
def instructor(tmp_path):
    path = tmp_path / "source" / "99_tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(instructor_notebook(), path)
    return path


@needs_nbgrader
def test_student_version_strips_solutions_hidden_tests_outputs_and_widgets(instructor, tmp_path):
    dst = student.make_student_version(instructor, tmp_path / "release" / "99_tiny.ipynb")
    nb = nbformat.read(dst, as_version=4)
    _, setup, answer, square, test_square, _ = nb.cells
    assert answer.source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert square.source == "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert test_square.source == "assert square(3) == 9"  # hidden test gone, the visible one kept
    assert setup.outputs == [] and setup.execution_count is None
    assert "widgets" not in nb.metadata
    assert test_square.metadata["nbgrader"]["checksum"]  # nbgrader's own bookkeeping is there
    assert nbformat.read(instructor, as_version=4).cells[2].source.endswith("END SOLUTION")  # untouched


@needs_nbgrader
def test_student_version_executes_with_only_not_implemented_errors(instructor, tmp_path):
    dst = student.make_student_version(instructor, tmp_path / "release" / "99_tiny.ipynb")
    runs = student.execute_student_version(dst, timeout=60)
    by_id = {r.grade_id: r for r in runs}
    assert by_id["answer"].ename == "NotImplementedError"
    assert not by_id["square"].errored  # defining the stub works; calling it fails
    assert by_id["test_square"].ename == "NotImplementedError"
    assert by_id["test_answer"].errored  # NameError: `answer` was never assigned
    assert all(r.ename == "NotImplementedError" for r in runs if r.errored and not r.grade)
    assert not by_id[None].errored  # the setup cell (saw GANTUT_PROFILE=smoke)


def test_instructor_version_executes_cleanly(instructor):
    runs = student.execute_student_version(instructor, timeout=60)
    assert len(runs) == 5 and not any(r.errored for r in runs), runs


@needs_nbgrader
def test_unclosed_solution_marker_is_reported(tmp_path):
    nb = instructor_notebook()
    nb.cells[2].source = "### BEGIN SOLUTION\nanswer = 42"
    src = tmp_path / "bad.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(ValueError, match="END SOLUTION"):
        student.make_student_version(src, tmp_path / "out.ipynb")


def test_refuses_to_overwrite_the_source(instructor):
    with pytest.raises(ValueError, match="overwrite"):
        student.make_student_version(instructor, instructor)


@needs_nbgrader
def test_generate_writes_one_student_notebook_per_path(instructor, tmp_path):
    written = student.generate([instructor], tmp_path / "release")
    assert written == [tmp_path / "release" / "99_tiny.ipynb"] and written[0].exists()


def test_missing_nbgrader_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "nbgrader.preprocessors", None)
    with pytest.raises(ImportError, match=r'pip install "gantut\[instructor\]"'):
        student.student_notebook(instructor_notebook())
