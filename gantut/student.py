"""Student versions of the instructor notebooks (the nbgrader convention, schema version 3).

The instructor notebook holds the solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION``
in cells whose ``metadata.nbgrader`` says ``solution: true``, and graded test cells
(``grade: true``, ``points``, ``grade_id``) that may hold ``### BEGIN HIDDEN TESTS`` regions.
The student version is what nbgrader's ``generate_assignment`` makes, using nbgrader's own
preprocessors: solutions become ``raise NotImplementedError()``, hidden tests and outputs are
removed, cells are locked and checksummed; we also drop the saved widget state.

Executing a student version must fail only with ``NotImplementedError`` in solution cells (and in
the graded cells that test them): :func:`execute_student_version` reports what each cell raised.

Two additions to nbgrader's pipeline: every ``grade_id`` must be unique in a notebook
(:func:`duplicate_grade_ids`, :func:`check_grade_ids` say which cells clash and what to do), and a
graded cell that holds only hidden tests keeps one line, :data:`HIDDEN_TESTS_NOTICE`, so the student
sees that tests run there (:func:`add_hidden_tests_notice`; ``HiddenTestsNotice`` is the same step
as an nbgrader preprocessor, used by the repository's ``nbgrader_config.py``).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import nbformat

INSTALL_HINT = 'pip install "gantut[instructor]"'


def _preprocessors() -> list:
    """nbgrader's release pipeline, in its own order, without the database steps (SaveCells) and
    without header/footer and test templates, which gantut does not use."""
    try:
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearHiddenTests,
            ClearMarkScheme,
            ClearOutput,
            ClearSolutions,
            ComputeChecksums,
            LockCells,
        )
    except ImportError as err:
        raise ImportError(
            f"making student versions needs nbgrader, which is not installed ({err}); "
            f"install the instructor extras: {INSTALL_HINT}"
        ) from None
    # As in nbgrader's GenerateAssignment: checksums before and again after ClearHiddenTests.
    return [LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata(), ComputeChecksums(),
            _hidden_tests_notice_class()(), ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
            CheckCellMetadata()]


# --- hidden tests and grade ids ----------------------------------------------------------------

HIDDEN_TESTS_NOTICE = "# Hidden tests run in this cell when your notebook is graded."
_BEGIN_HIDDEN, _END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def add_hidden_tests_notice(source: str) -> str:
    """``source`` with :data:`HIDDEN_TESTS_NOTICE` as its first line when everything in it is
    inside ``### BEGIN/END HIDDEN TESTS`` regions (after nbgrader removes them, the student would
    see an empty cell); any other source is returned unchanged."""
    if _BEGIN_HIDDEN not in source or HIDDEN_TESTS_NOTICE in source:
        return source
    visible, hidden = [], False
    for line in source.split("\n"):
        if _BEGIN_HIDDEN in line:
            hidden = True
        elif _END_HIDDEN in line:
            hidden = False
        elif not hidden:
            visible.append(line)
    if any(line.strip() for line in visible):
        return source
    return HIDDEN_TESTS_NOTICE + "\n" + source


@functools.lru_cache(maxsize=None)
def _hidden_tests_notice_class():
    """The nbgrader preprocessor that applies :func:`add_hidden_tests_notice` to graded cells (built
    on first use, so that importing gantut.student does not need nbgrader)."""
    from nbgrader.preprocessors import NbGraderPreprocessor

    class HiddenTestsNotice(NbGraderPreprocessor):
        """Keep a line saying that hidden tests run here in graded cells that hold only hidden
        tests. Put it right before ClearHiddenTests (after SaveCells in nbgrader's pipeline)."""

        def preprocess_cell(self, cell, resources, cell_index):
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                cell.source = add_hidden_tests_notice(cell.source)
            return cell, resources

    HiddenTestsNotice.__module__ = __name__
    return HiddenTestsNotice


def __getattr__(name: str):
    if name == "HiddenTestsNotice":  # gantut.student.HiddenTestsNotice, for nbgrader_config.py
        return _hidden_tests_notice_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def duplicate_grade_ids(nb: nbformat.NotebookNode) -> dict[str, list[int]]:
    """grade_id -> the indices of the cells that share it, for every grade_id used by more than one
    nbgrader cell (solution, graded or locked cells: the ones nbgrader tracks). Empty if all is well."""
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if not meta or not (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            continue
        seen.setdefault(str(meta.get("grade_id")), []).append(i)
    return {gid: cells for gid, cells in seen.items() if len(cells) > 1}


def check_grade_ids(nb: nbformat.NotebookNode, where: str = "the notebook") -> None:
    """Raise ValueError naming the clashing cells if two nbgrader cells share a grade_id."""
    dups = duplicate_grade_ids(nb)
    if not dups:
        return
    clashes = "; ".join(f"grade_id {gid!r} is used by cells {', '.join(str(i) for i in cells)} (counting from 0)"
                        for gid, cells in dups.items())
    raise ValueError(
        f"{where}: {clashes}. nbgrader needs a distinct grade_id for every solution, graded and locked cell "
        "(it stores points and checksums under it; autograde drops the nbgrader metadata of all but the "
        "last copy). Rename the copies, e.g. 'test_r1_penalty' and 'test_r1_penalty_2' (Jupyter: View → Cell "
        "Toolbar → Create Assignment; or edit metadata.nbgrader.grade_id), keeping solution ids like "
        "'r1_penalty' and test ids like 'test_r1_penalty'."
    )


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of an instructor notebook (a new object; ``nb`` is left as it was)."""
    nb = nbformat.from_dict(nb)  # a deep copy
    check_grade_ids(nb)
    resources: dict = {}
    for pre in _preprocessors():
        try:
            nb, resources = pre.preprocess(nb, resources)
        except RuntimeError as err:  # nbgrader's message, e.g. "no end solution statement found"
            raise ValueError(
                f"nbgrader's {type(pre).__name__} refused the notebook: {err}. Check the "
                "BEGIN/END SOLUTION and BEGIN/END HIDDEN TESTS markers and that such cells carry "
                "nbgrader metadata (solution: true / grade: true)."
            ) from None
    nb.metadata.pop("widgets", None)  # saved widget state: stale once the outputs change
    return nb


def make_student_version(src_path: str | Path, dst_path: str | Path) -> Path:
    """Write the student version of the notebook ``src_path`` to ``dst_path``; return ``dst_path``."""
    src_path, dst_path = Path(src_path), Path(dst_path)
    if src_path.resolve() == dst_path.resolve():
        raise ValueError(f"refusing to overwrite the instructor notebook {src_path}; choose another dst_path.")
    nb = nbformat.read(src_path, as_version=4)
    check_grade_ids(nb, where=str(src_path))
    out = student_notebook(nb)
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(out, dst_path)
    return dst_path


def generate(chapters: Iterable[str | Path] | None, out_dir: str | Path) -> list[Path]:
    """Student versions of ``chapters`` (numbers like ``"01"``, file stems, or notebook paths; empty
    or ``None`` for every chapter) written under ``out_dir`` with the same file names."""
    from .cli import all_chapters, resolve_chapter

    out_dir = Path(out_dir)
    if chapters:
        paths = [Path(c) if Path(c).suffix == ".ipynb" and Path(c).exists() else resolve_chapter(str(c))
                 for c in chapters]
    else:
        paths = all_chapters()
    return [make_student_version(p, out_dir / p.name) for p in paths]


@dataclass
class CellRun:
    """What happened when one code cell ran."""

    index: int  # position in the notebook (all cells counted)
    solution: bool  # nbgrader solution cell
    grade: bool  # nbgrader graded (autograder test) cell
    grade_id: str | None
    errored: bool
    ename: str | None = None  # e.g. "NotImplementedError"
    evalue: str | None = None


def execute_student_version(path: str | Path, timeout: int = 60, profile: str = "smoke") -> list[CellRun]:
    """Run every code cell of the notebook at ``path`` (continuing after errors) with the
    ``python3`` kernel, ``GANTUT_PROFILE=profile``, in the notebook's folder; one
    :class:`CellRun` per code cell. Works for instructor versions as well."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    env = dict(os.environ, GANTUT_PROFILE=profile)
    client.execute(env=env)
    runs = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        runs.append(CellRun(
            index=i,
            solution=bool(meta.get("solution", False)),
            grade=bool(meta.get("grade", False)),
            grade_id=meta.get("grade_id"),
            errored=bool(errors),
            ename=errors[0].ename if errors else None,
            evalue=errors[0].evalue if errors else None,
        ))
    return runs


__all__ = ["make_student_version", "student_notebook", "generate", "execute_student_version", "CellRun",
           "HIDDEN_TESTS_NOTICE", "add_hidden_tests_notice", "duplicate_grade_ids", "check_grade_ids"]
