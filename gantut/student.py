"""Student versions of the instructor notebooks (the nbgrader convention, schema version 3).

The instructor notebook holds the solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION``
in cells whose ``metadata.nbgrader`` says ``solution: true``, and graded test cells
(``grade: true``, ``points``, ``grade_id``) that may hold ``### BEGIN HIDDEN TESTS`` regions.
The student version is what nbgrader's ``generate_assignment`` makes, using nbgrader's own
preprocessors: solutions become ``raise NotImplementedError()``, hidden tests and outputs are
removed, cells are locked and checksummed; we also drop the saved widget state.

Executing a student version must fail only with ``NotImplementedError`` in solution cells (and in
the graded cells that test them): :func:`execute_student_version` reports what each cell raised.
"""
from __future__ import annotations

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
            ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(), CheckCellMetadata()]


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of an instructor notebook (a new object; ``nb`` is left as it was)."""
    nb = nbformat.from_dict(nb)  # a deep copy
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


__all__ = ["make_student_version", "student_notebook", "generate", "execute_student_version", "CellRun"]
