"""Hygiene of the committed chapter notebooks (notebooks/*.ipynb), read as JSON and never executed.

A committed notebook is what a student opens first, so it should read as a clean top-to-bottom run:

* every code cell executed, with execution counts 1, 2, 3, ... in order, and no error output;
* nothing on stderr, no progress-bar remnants (tqdm text or widgets), no widget output whose state
  was not saved (JupyterLab shows "Error displaying widget: model not found" for those);
* no machine-specific text: the checkout's absolute path, the home folder, /tmp/..., /root/...,
  object reprs with memory addresses ("<... at 0x7f...>");
* no pointer to files a user does not have (../shared/, REFERENCE.md, DESIGN.md) in any cell;
* in cells marked ``# NBVAL_CHECK_OUTPUT`` (whose output nbval compares with the committed one), no
  printed float with more than 4 significant digits or in e-notation: such numbers change in the
  last digits from one machine or library version to the next. Integers and short rounded
  decimals are fine.

Each check is a plain function ``notebook dict -> list of problems``; the synthetic notebooks at the
end show that each one flags a crafted bad notebook and passes a clean one.

Some committed outputs have such problems today; they are refreshed by the next cpu re-execution
of the chapters. Those (notebook, check) pairs are listed in ``KNOWN_OUTPUT_PROBLEMS`` and marked
xfail (not strict, so a fixed notebook simply XPASSes); remove a pair once its notebook is clean.
Only output checks may be listed there: the source checks must always pass.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")


# ----------------------------------------------------------------------------- reading cells
def _text(value) -> str:
    """A notebook string field: either one string or a list of lines."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "".join(value)
    return str(value)


def _code_cells(nb: dict) -> list[tuple[int, dict]]:
    """(index among all cells, cell) for every code cell."""
    return [(i, c) for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code"]


def _output_texts(output: dict) -> list[str]:
    """The human-readable text of one output: stream text, text mimetypes, error traceback."""
    kind = output.get("output_type")
    if kind == "stream":
        return [_text(output.get("text"))]
    if kind == "error":
        return [_text(output.get("evalue"))] + [_text(line) for line in output.get("traceback", [])]
    data = output.get("data", {})
    return [_text(data[m]) for m in TEXT_MIMES if m in data]


def _is_check_cell(cell: dict) -> bool:
    return any(line.strip() == CHECK_MARKER for line in _text(cell.get("source")).splitlines())


# ----------------------------------------------------------------------------- the checks
def unexecuted_cells(nb: dict) -> list[str]:
    """Code cells with source but no execution count."""
    return [f"cell {i}: code cell never executed" for i, c in _code_cells(nb)
            if _text(c.get("source")).strip() and c.get("execution_count") is None]


def execution_order(nb: dict) -> list[str]:
    """Execution counts of the code cells must read 1, 2, 3, ... (one clean run, top to bottom).

    Empty code cells are left out: Jupyter and nbclient do not execute them, so they get no count.
    """
    cells = [(i, c) for i, c in _code_cells(nb) if _text(c.get("source")).strip()]
    counts = [c.get("execution_count") for _, c in cells]
    for n, ((i, _), got) in enumerate(zip(cells, counts), start=1):
        if got != n:
            return [f"cell {i}: execution count {got}, expected {n} (counts {counts[:12]}...)"]
    return []


def error_outputs(nb: dict) -> list[str]:
    return [f"cell {i}: error output {o.get('ename')}: {o.get('evalue')}"
            for i, c in _code_cells(nb) for o in c.get("outputs", []) if o.get("output_type") == "error"]


def stderr_outputs(nb: dict) -> list[str]:
    return [f"cell {i}: stderr output {_text(o.get('text'))[:80]!r}"
            for i, c in _code_cells(nb) for o in c.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def _saved_widget_ids(nb: dict) -> set[str]:
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return set(state)


def unsaved_widgets(nb: dict) -> list[str]:
    """Widget outputs whose model is not in the notebook's saved widget state."""
    saved = _saved_widget_ids(nb)
    problems = []
    for i, c in _code_cells(nb):
        for o in c.get("outputs", []):
            view = o.get("data", {}).get(WIDGET_VIEW)
            if view is not None and view.get("model_id") not in saved:
                problems.append(f"cell {i}: widget output {view.get('model_id')} has no saved widget state")
    return problems


PROGRESS_PATTERNS = [
    re.compile(r"\d{1,3}%\|"),                          # " 40%|████      |"
    re.compile(r"\|\s*\d+/\d+\s*\["),                   # "| 4/10 ["
    re.compile(r"\d+(?:\.\d+)?\s?(?:it/s|s/it)\]"),     # "3.52it/s]"
    re.compile(r"\[\d{1,2}:\d{2}<(?:\d{1,2}:\d{2}|\?)"),  # "[00:01<00:02" (elapsed<remaining)
]


def progress_remnants(nb: dict) -> list[str]:
    """tqdm bars (text or widget) and carriage-return redraws left in the outputs."""
    problems = []
    for i, c in _code_cells(nb):
        for o in c.get("outputs", []):
            for text in _output_texts(o):
                if "\r" in text:
                    problems.append(f"cell {i}: carriage return (a progress redraw) in the output")
                    break
                hit = next((p.search(text) for p in PROGRESS_PATTERNS if p.search(text)), None)
                if hit:
                    line = text[max(0, hit.start() - 40): hit.end() + 20].strip()
                    problems.append(f"cell {i}: progress bar in the output: {line!r}")
                    break
    return problems


def machine_path_patterns() -> list[re.Pattern]:
    """Paths of this machine and generic user/temporary folders."""
    patterns = [re.compile(r"(?<![\w.])/tmp/"), re.compile(r"(?<![\w.])/root/"),
                re.compile(r"(?<![\w.])/home/[^/\s]+/"), re.compile(r"(?<![\w.])/Users/[^/\s]+/")]
    for path in (str(ROOT), str(Path.home())):
        if len(path) > 1:  # a home of "/" would match everything
            patterns.append(re.compile(re.escape(path) + r"(?![\w.-])"))
    return patterns


def machine_paths(nb: dict, patterns: list[re.Pattern] | None = None) -> list[str]:
    patterns = machine_path_patterns() if patterns is None else patterns
    problems = []
    for i, c in _code_cells(nb):
        for o in c.get("outputs", []):
            for text in _output_texts(o):
                for p in patterns:
                    m = p.search(text)
                    if m:
                        problems.append(f"cell {i}: machine path in the output: "
                                        f"{text[max(0, m.start() - 20): m.end() + 40].strip()!r}")
                        break
    return problems


MEMORY_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}")


def memory_addresses(nb: dict) -> list[str]:
    """Default object reprs such as ``<Figure ... at 0x7f3a...>``: they differ on every run."""
    return [f"cell {i}: object repr with a memory address: {m.group(0)!r}"
            for i, c in _code_cells(nb) for o in c.get("outputs", []) for text in _output_texts(o)
            for m in [MEMORY_ADDRESS.search(text)] if m]


OUTSIDE_POINTERS = [
    re.compile(r"\.\./shared\b"),
    re.compile(r"\bshared/REFERENCE"),
    re.compile(r"\bREFERENCE\b"),         # REFERENCE.md, "REFERENCE ch. 06", "REFERENCE M6"; not REFERENCE_ROWS
    re.compile(r"\bDESIGN\.md\b"),
]


def outside_references(nb: dict) -> list[str]:
    """Any cell (markdown or code) pointing at files that are not part of the project."""
    problems = []
    for i, c in enumerate(nb.get("cells", [])):
        source = _text(c.get("source"))
        for p in OUTSIDE_POINTERS:
            m = p.search(source)
            if m:
                problems.append(f"cell {i} ({c.get('cell_type')}): points outside the project: "
                                f"{source[max(0, m.start() - 30): m.end() + 30]!r}")
    return problems


NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?!\w|\.\d)")


def unstable_float(token: str) -> bool:
    """True for a float printed in e-notation or with more than 4 significant digits.

    Integers (``17154``, ``-3``) are fine whatever their length; so are ``0.765``, ``98.6``,
    ``1.386``, ``0.0012``. Leading zeros do not count; trailing zeros after the point do
    (``20.0000`` has 6 significant digits, ``1.3863`` has 5).
    """
    if "e" in token.lower():
        return True
    if "." not in token:
        return False
    digits = token.lstrip("+-").replace(".", "").lstrip("0")
    return len(digits) > 4


def check_output_floats(nb: dict) -> list[str]:
    """Unrounded floats in the outputs of ``# NBVAL_CHECK_OUTPUT`` cells (stdout and text/plain)."""
    problems = []
    for i, c in _code_cells(nb):
        if not _is_check_cell(c):
            continue
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                text = _text(o.get("text"))
            else:
                text = _text(o.get("data", {}).get("text/plain"))
            bad = [t for t in NUMBER.findall(text) if unstable_float(t)]
            if bad:
                problems.append(f"cell {i}: unrounded or e-notation floats in a checked output: {bad[:6]}")
    return problems


CHECKS = {
    "unexecuted": unexecuted_cells,
    "execution_order": execution_order,
    "errors": error_outputs,
    "stderr": stderr_outputs,
    "widgets": unsaved_widgets,
    "progress": progress_remnants,
    "machine_paths": machine_paths,
    "memory_addresses": memory_addresses,
    "outside_references": outside_references,
    "check_output_floats": check_output_floats,
}
SOURCE_CHECKS = {"outside_references"}  # about what the authors wrote: never xfail

# Output problems of committed notebooks waiting for a re-execution: none (all were re-executed in the cpu profile).
KNOWN_OUTPUT_PROBLEMS: dict[str, set[str]] = {}
XFAIL_REASON = "outputs refreshed by the next cpu re-execution"


def _cases():
    for path in NOTEBOOKS:
        for name in CHECKS:
            marks = []
            if name not in SOURCE_CHECKS and name in KNOWN_OUTPUT_PROBLEMS.get(path.stem, ()):
                marks.append(pytest.mark.xfail(strict=False, reason=XFAIL_REASON))
            yield pytest.param(path, name, marks=marks, id=f"{path.stem}-{name}")


def test_notebooks_found():
    assert NOTEBOOKS, f"no chapter notebooks in {ROOT / 'notebooks'}"


def test_known_problems_name_real_checks():
    for stem, names in KNOWN_OUTPUT_PROBLEMS.items():
        assert (ROOT / "notebooks" / f"{stem}.ipynb").exists(), stem
        assert set(names) <= set(CHECKS) - SOURCE_CHECKS, (stem, names)


@pytest.mark.parametrize("path, check", list(_cases()))
def test_committed_notebook(path: Path, check: str):
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = CHECKS[check](nb)
    assert not problems, f"{path.name}: " + "; ".join(problems[:8]) + (
        f" (and {len(problems) - 8} more)" if len(problems) > 8 else "")


# ----------------------------------------------------------------------------- the checks on crafted notebooks
def _code(source: str, count: int | None, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": outputs or [],
            "source": source.splitlines(keepends=True)}


def _md(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _stdout(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _result(text: str, count: int) -> dict:
    return {"output_type": "execute_result", "execution_count": count, "metadata": {},
            "data": {"text/plain": text}}


def _nb(cells: list, metadata: dict | None = None) -> dict:
    return {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}


def clean_notebook() -> dict:
    return _nb([
        _md("# 01 — A chapter\nSee [the references](../docs/references.md) (Goodfellow et al. 2014, arXiv:1406.2661)."),
        _code("import math\nx = 3", 1),
        _code("# NBVAL_CHECK_OUTPUT\nprint(f'modes 8/8, HQ 98.6%, L = {math.log(4):.3f}, n = 17154')", 2,
              [_stdout("modes 8/8, HQ 98.6%, L = 1.386, n = 17154, shape (64, 2)\n")]),
        _code("x + 1", 3, [_result("4", 3)]),
        _code("print('loss 0.123456789 varies, but this cell is not checked')", 4,
              [_stdout("loss 0.123456789 varies, but this cell is not checked\n")]),
        _code("", None),  # an empty trailing cell is not "unexecuted"
    ])


BAD_PARTS = {
    "unexecuted": lambda nb: nb["cells"].append(_code("y = 1", None)),
    "execution_order": lambda nb: nb["cells"][2].__setitem__("execution_count", 7),
    "errors": lambda nb: nb["cells"][3]["outputs"].append(
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["ValueError: bad"]}),
    "stderr": lambda nb: nb["cells"][3]["outputs"].append(
        {"output_type": "stream", "name": "stderr", "text": "UserWarning: something\n"}),
    "widgets": lambda nb: nb["cells"][3]["outputs"].append(
        {"output_type": "display_data", "metadata": {},
         "data": {WIDGET_VIEW: {"model_id": "abc123", "version_major": 2, "version_minor": 0},
                  "text/plain": "HBox(children=(...))"}}),
    "progress": lambda nb: nb["cells"][4]["outputs"].append(
        _stdout("features [classifier:mnist]: 100%|██████████| 10/10 [00:01<00:00,  7.52it/s]\n")),
    "machine_paths": lambda nb: nb["cells"][4]["outputs"].append(
        _stdout("saved to /tmp/pytest-of-me/run3/ckpt.pt\n")),
    "memory_addresses": lambda nb: nb["cells"][3]["outputs"].append(
        _result("<Figure size 640x480 with 1 Axes at 0x7f3a2b1c4d90>", 3)),
    "outside_references": lambda nb: nb["cells"][0].__setitem__(
        "source", "The claim (seed 002, REFERENCE ch. 06) ..."),
    "check_output_floats": lambda nb: nb["cells"][2]["outputs"].append(_stdout("F = 18.420681, eps 1e-08\n")),
}


def test_clean_notebook_passes_every_check():
    nb = clean_notebook()
    for name, check in CHECKS.items():
        assert check(nb) == [], name


@pytest.mark.parametrize("name", sorted(BAD_PARTS))
def test_each_check_flags_its_problem_and_only_it(name: str):
    nb = clean_notebook()
    BAD_PARTS[name](nb)
    flagged = {n for n, check in CHECKS.items() if check(nb)}
    assert name in flagged, f"{name} did not flag its crafted problem"
    # the crafted problem trips its own check; an unexecuted cell also breaks the count sequence
    assert flagged <= {name, "execution_order"}, flagged


def test_outside_references_forms():
    for text in ["see ../shared/REFERENCE.md", "(REFERENCE.md ch. 04)", "REFERENCE M6", "docs/REFERENCE.md",
                 "Outline (DESIGN.md)"]:
        assert outside_references(_nb([_md(text)])), text
    for text in ["REFERENCE_ROWS from experiments2d", "the shared 2D runner", "docs/references.md#chapter-06",
                 "a reference implementation"]:
        assert not outside_references(_nb([_md(text)])), text
    # code cells count too
    assert outside_references(_nb([_code("# numbers from REFERENCE M3\nx = 1", 1)]))


def test_unstable_float_rule():
    assert [t for t in ["17154", "-3", "0.765", "98.6", "1.386", "0.0012", "-0.6000", "0.0000", "95.0"]
            if unstable_float(t)] == []
    assert all(unstable_float(t) for t in ["1.3863", "0.022087", "20.0000", "18.4207", "1e-8", "2.2e-17", "0.60653"])
    assert NUMBER.findall("torch 2.14.1, shape (64, 2), L = 1.386.") == ["64", "2", "1.386"]
    assert NUMBER.findall("1,486,352 parameters") == ["1", "486", "352"]  # integers with separators


def test_widget_with_saved_state_is_fine():
    nb = clean_notebook()
    BAD_PARTS["widgets"](nb)
    nb["metadata"]["widgets"] = {WIDGET_STATE: {"state": {"abc123": {"model_name": "HBoxModel"}}}}
    assert unsaved_widgets(nb) == []


def test_machine_paths_of_this_checkout_are_flagged():
    nb = _nb([_code("print(p)", 1, [_stdout(f"executed notebook: {ROOT}/runs/01/x.ipynb\n")])])
    assert machine_paths(nb)
    nb = _nb([_code("print(p)", 1, [_stdout("executed notebook: runs/01/x.ipynb\n")])])
    assert machine_paths(nb) == []
