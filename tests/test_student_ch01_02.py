"""Student versions of chapters 01 and 02: the stubs fail only with NotImplementedError (through the
graded cells, which report "not implemented"), every other cell still runs (smoke profile)."""
from pathlib import Path

import pytest

from gantut import student

try:
    import nbgrader  # noqa: F401
except ImportError:
    nbgrader = None

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.skipif(nbgrader is None, reason='pip install "gantut[instructor]"')
@pytest.mark.parametrize("chapter,graded", [
    ("01_ring_and_grid.ipynb", {"test_losses", "test_mode_stats"}),
    ("02_mnist_baselines.ipynb", {"test_course_G_bn"}),
])
def test_student_version_fails_only_on_the_stubs(chapter, graded, tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))
    dst = student.make_student_version(NOTEBOOKS / chapter, tmp_path / "release" / chapter)
    text = dst.read_text()
    assert "BEGIN SOLUTION" not in text and "raise NotImplementedError" in text
    runs = student.execute_student_version(dst, timeout=300)
    failed = {r.grade_id for r in runs if r.errored}
    assert failed == graded, [(r.index, r.grade_id, r.ename, r.evalue) for r in runs if r.errored]
    for r in runs:
        if r.errored:
            assert r.grade and "not implemented" in r.evalue, (r.grade_id, r.ename, r.evalue)
    by_id = {r.grade_id: r for r in runs if r.grade_id}
    assert all(not by_id[g.replace("test_", "")].errored for g in graded)  # defining a stub works
