"""Student versions and graded cells: hidden tests are stripped (a cell holding only hidden tests keeps a
line saying they run there), duplicated grade_ids are reported with what to do."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from gantut import student

try:
    import nbgrader  # noqa: F401
except ImportError:
    nbgrader = None
needs_nbgrader = pytest.mark.skipif(nbgrader is None, reason='pip install "gantut[instructor]"')


def _meta(grade_id, *, solution=False, grade=False, points=None):
    meta = {"schema_version": 3, "grade_id": grade_id, "solution": solution, "grade": grade,
            "locked": grade, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


HIDDEN_ONLY = ("### BEGIN HIDDEN TESTS\nfrom gantut import grading\ngrading.check_r1(r1_penalty)\n"
               "### END HIDDEN TESTS")
MIXED = "assert r1_penalty is not None\n### BEGIN HIDDEN TESTS\nassert 1 + 1 == 2\n### END HIDDEN TESTS"


def notebook(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


def test_add_hidden_tests_notice():
    assert student.add_hidden_tests_notice(HIDDEN_ONLY) == student.HIDDEN_TESTS_NOTICE + "\n" + HIDDEN_ONLY
    assert student.add_hidden_tests_notice(MIXED) == MIXED  # visible tests: nothing added
    assert student.add_hidden_tests_notice("assert True") == "assert True"
    once = student.add_hidden_tests_notice(HIDDEN_ONLY)
    assert student.add_hidden_tests_notice(once) == once  # idempotent
    blank_around = "\n" + HIDDEN_ONLY + "\n\n"
    assert student.add_hidden_tests_notice(blank_around).startswith(student.HIDDEN_TESTS_NOTICE)


@needs_nbgrader
def test_student_version_strips_hidden_tests_and_keeps_the_notice():
    nb = notebook(
        new_code_cell("def r1_penalty(D, real, gamma):\n    ### BEGIN SOLUTION\n    return 0\n    ### END SOLUTION",
                      metadata=_meta("r1_penalty", solution=True)),
        new_code_cell(HIDDEN_ONLY, metadata=_meta("test_hidden", grade=True, points=2)),
        new_code_cell(MIXED, metadata=_meta("test_mixed", grade=True, points=1)),
    )
    out = student.student_notebook(nb)
    _, hidden, mixed = out.cells
    assert hidden.source == student.HIDDEN_TESTS_NOTICE
    assert mixed.source == "assert r1_penalty is not None"
    assert "HIDDEN" not in nbformat.writes(out)
    assert nb.cells[1].source == HIDDEN_ONLY  # the instructor notebook is left as it was
    assert hidden.metadata["nbgrader"]["checksum"]


@needs_nbgrader
def test_hidden_tests_in_a_non_graded_cell_are_refused():
    nb = notebook(new_code_cell(MIXED))
    with pytest.raises(ValueError, match="HIDDEN TESTS"):
        student.student_notebook(nb)


def test_duplicate_grade_ids_are_found():
    nb = notebook(
        new_code_cell("x = 1", metadata=_meta("answer", solution=True)),
        new_code_cell("assert x", metadata=_meta("test_answer", grade=True, points=1)),
        new_code_cell("assert x == 1", metadata=_meta("test_answer", grade=True, points=1)),
        new_code_cell("print(x)"),
    )
    assert student.duplicate_grade_ids(nb) == {"test_answer": [1, 2]}
    with pytest.raises(ValueError) as info:
        student.check_grade_ids(nb, where="ps1/drs.ipynb")
    msg = str(info.value)
    assert "ps1/drs.ipynb" in msg and "'test_answer' is used by cells 1, 2" in msg and "Rename" in msg
    nb.cells[2].metadata["nbgrader"]["grade_id"] = "test_answer_2"
    assert student.duplicate_grade_ids(nb) == {}
    student.check_grade_ids(nb)


def test_make_student_version_reports_duplicate_grade_ids(tmp_path):
    nb = notebook(new_code_cell("assert True", metadata=_meta("t", grade=True, points=1)),
                  new_code_cell("assert True", metadata=_meta("t", grade=True, points=1)))
    src = tmp_path / "dup.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(ValueError, match=r"dup\.ipynb: grade_id 't' is used by cells 0, 1"):
        student.make_student_version(src, tmp_path / "out.ipynb")


def test_the_chapters_have_unique_grade_ids():
    from pathlib import Path
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        assert student.duplicate_grade_ids(nbformat.read(path, as_version=4)) == {}, path.name
