"""Student versions of every chapter with graded exercises (smoke profile).

The generated version has no solutions; executing it, only the graded test cells fail, each
saying "not implemented"; defining the stubbed function itself works. The graded cells are read
from the instructor notebooks' nbgrader metadata, and the table below pins what each chapter
grades, so an exercise that disappears (or a new one) is noticed.
"""
from pathlib import Path

import nbformat
import pytest

from gantut import student

try:
    import nbgrader  # noqa: F401
except ImportError:
    nbgrader = None

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

GRADED = {
    "01_ring_and_grid.ipynb": {"test_losses", "test_mode_stats"},
    "02_mnist_baselines.ipynb": {"test_course_G_bn"},
    "03_wgan_gp.ipynb": {"test_gradient_penalty"},
    "04_mdgan.ipynb": {"test_simplex_vertices", "test_mixture_likelihood"},
    "05_unrolled_gan.ipynb": {"test_unrolled_sgd_step"},
    "06_r1.ipynb": {"test_r1_penalty"},
    "07_drs.ipynb": {"test_acceptance_probability"},
    "08_sagan.ipynb": {"test_self_attention"},
    "09_lsgan_alpha.ipynb": {"test_lsgan_alpha"},
    "10_progressive_pretraining.ipynb": {"test_fade_in"},
    "11_lfm.ipynb": {"test_orthogonal_pair_batch", "test_pair_dot"},
    "12_dls.ipynb": {"test_latent_scale", "test_encoder_loss"},
}


def graded_cells(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")}


def test_every_chapter_with_an_exercise_is_listed():
    found = {p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if graded_cells(p)}
    assert found == set(GRADED)
    for name, graded in GRADED.items():
        assert graded_cells(NOTEBOOKS / name) == graded, name


@pytest.mark.skipif(nbgrader is None, reason='pip install "gantut[instructor]"')
@pytest.mark.parametrize("chapter", sorted(GRADED))
def test_student_version_fails_only_on_the_stubs(chapter, tmp_path, monkeypatch):
    monkeypatch.setenv("GANTUT_OFFLINE", "1")
    monkeypatch.setenv("GANTUT_RUNS", str(tmp_path / "runs"))  # no cached models: the student runs it all
    dst = student.make_student_version(NOTEBOOKS / chapter, tmp_path / "release" / chapter)
    text = dst.read_text()
    assert "BEGIN SOLUTION" not in text and "raise NotImplementedError" in text
    runs = student.execute_student_version(dst, timeout=300)
    failed = {r.grade_id for r in runs if r.errored}
    assert failed == GRADED[chapter], [(r.index, r.grade_id, r.ename, r.evalue) for r in runs if r.errored]
    for r in runs:
        if r.errored:
            assert r.grade and "not implemented" in r.evalue, (r.grade_id, r.ename, r.evalue)
    by_id = {r.grade_id: r for r in runs if r.grade_id}
    assert all(not by_id[g.replace("test_", "")].errored for g in GRADED[chapter])  # defining a stub works
