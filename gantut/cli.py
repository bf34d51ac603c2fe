"""The ``gantut`` command: list the chapters, run one headless, make student versions.

    gantut list
    gantut run 01 --profile cpu -p steps=3000 -p lr=2e-4
    gantut student 01 03 --out student/

``run`` executes the chapter notebook with papermill (kernel ``python3``, working directory the
notebooks folder, ``GANTUT_PROFILE`` set for the kernel) into
``runs/<NN_topic>/<timestamp>-<profile>/``, and writes there ``figures/`` (every picture of the executed
notebook, ``cellNN-K.png``) and ``metrics.json`` (the numbers the chapter's verdict cell saves with
:func:`gantut.outputs.save_metrics`; the kernel finds the folder in ``GANTUT_OUT_DIR``).

The notebooks folder is the checkout's ``notebooks/``, or ``$GANTUT_NOTEBOOKS``.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from . import config

CHAPTER_FILE = re.compile(r"^(\d{2})_(\w+)\.ipynb$")
NAME = re.compile(r"^[A-Za-z_]\w*$")


class UserError(Exception):
    """A mistake on the command line: printed as one message (with the fix), no traceback."""


# ----------------------------------------------------------------------------- chapters
def notebooks_dir(override: str | Path | None = None) -> Path:
    """The chapters' folder: ``override``, else ``$GANTUT_NOTEBOOKS``, else the checkout's ``notebooks/``."""
    chosen = override or os.environ.get("GANTUT_NOTEBOOKS")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_dir():
            raise UserError(f"notebooks folder {path} does not exist; fix GANTUT_NOTEBOOKS or the path given.")
        return path
    root = config.repo_root()
    if root is None:
        raise UserError(
            "no notebooks folder found: gantut is not running from a source checkout. Clone the "
            "repository and `pip install -e .` there, or set GANTUT_NOTEBOOKS=/path/to/notebooks."
        )
    return root / "notebooks"


def all_chapters(nb_dir: str | Path | None = None) -> list[Path]:
    """The chapter notebooks ``NN_topic.ipynb``, in chapter order."""
    return sorted(p for p in notebooks_dir(nb_dir).glob("*.ipynb") if CHAPTER_FILE.match(p.name))


def resolve_chapter(spec: str, nb_dir: str | Path | None = None) -> Path:
    """The notebook for ``spec``: a number (``"01"`` or ``"1"``), a file stem (``"01_ring"``) or
    the topic alone (``"ring"``)."""
    chapters = all_chapters(nb_dir)
    s = spec.strip()
    s = s[: -len(".ipynb")] if s.endswith(".ipynb") else s
    for path in chapters:
        number, topic = CHAPTER_FILE.match(path.name).groups()
        if (s.isdigit() and int(s) == int(number)) or s in (path.stem, topic):
            return path
    known = ", ".join(p.stem for p in chapters) or f"none (no NN_topic.ipynb in {notebooks_dir(nb_dir)})"
    raise UserError(f"unknown chapter {spec!r}; known chapters: {known}. Give a number like 01 or a name.")


@dataclass
class Chapter:
    number: str
    stem: str
    title: str
    parameters: dict[str, dict] = field(default_factory=dict)  # papermill: name → default, type, help


def _title(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    return line.lstrip().lstrip("#").strip()
    return path.stem


def chapter_info(path: Path) -> Chapter:
    """Number, title (first markdown heading) and the ``parameters`` cell's names of a chapter."""
    from papermill import inspect_notebook

    number = CHAPTER_FILE.match(path.name).group(1)
    title = re.sub(rf"^{number}\s*[—–:.-]?\s*", "", _title(path))  # "01 — Ring" → "Ring"
    return Chapter(number, path.stem, title, dict(inspect_notebook(str(path))))


# ----------------------------------------------------------------------------- run
def parse_param(raw: str) -> tuple[str, Any]:
    """``"name=value"`` → ``(name, value)``; the value read as a Python literal, else kept as a string."""
    name, sep, text = raw.partition("=")
    name = name.strip()
    if not sep or not NAME.match(name):
        raise UserError(f"malformed parameter {raw!r}: expected name=value, e.g. -p steps=200 or -p loss=hinge.")
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        value = text
    return name, value


def _check_profile(profile: str | None) -> str:
    if profile is None:
        try:
            return config.profile()
        except ValueError as err:
            raise UserError(str(err)) from None
    if profile not in config.PROFILES:
        raise UserError(f"unknown profile {profile!r}; use one of {', '.join(config.PROFILES)} (e.g. --profile cpu).")
    return profile


@contextlib.contextmanager
def _environ(**values: str):
    """Set environment variables for the duration (the kernel papermill starts inherits them)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class RunResult:
    notebook: Path  # the executed notebook
    out_dir: Path
    figures: Path | None  # out_dir/figures, when the chapter wrote it
    metrics: Path | None  # out_dir/metrics.json, when the chapter wrote it


def run_chapter(spec: str, profile: str | None = None, params: Sequence[str] = (),
                out: str | Path | None = None, nb_dir: str | Path | None = None,
                timeout: int | None = None, inplace: bool = False) -> RunResult:
    """Execute a chapter headless (see the module docstring); ``params`` are ``"name=value"`` strings.

    ``inplace=True`` writes the executed notebook over the chapter itself (how the committed cpu-profile
    outputs are refreshed); figures and metrics still go to the run folder.
    """
    profile = _check_profile(profile)
    path = resolve_chapter(spec, nb_dir)
    values = dict(parse_param(p) for p in params)
    declared = chapter_info(path).parameters
    unknown = [n for n in values if n not in declared]
    if unknown:
        known = ", ".join(declared) or "none (the notebook has no cell tagged `parameters`)"
        raise UserError(f"{path.stem} has no parameter {', '.join(map(repr, unknown))}; its parameters: {known}.")

    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = config.runs_dir() / path.stem / f"{stamp}-{profile}"
    else:
        out_dir = Path(out).expanduser()
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if "out_dir" in declared and "out_dir" not in values:
        values["out_dir"] = str(out_dir)
    executed = path if inplace else out_dir / path.name

    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        # no progress bars inside the notebook (widget bars saved without their state show "model not
        # found", text bars leave stderr remnants); the terminal shows papermill's cell progress instead
        with _environ(GANTUT_PROFILE=profile, GANTUT_PROGRESS="off", GANTUT_OUT_DIR=str(out_dir)), \
                tempfile.TemporaryDirectory(prefix="gantut-kernel-") as sockets:
            papermill.execute_notebook(str(path), str(executed), parameters=values, kernel_name="python3",
                                       cwd=str(path.parent), progress_bar=sys.stderr.isatty(),
                                       execution_timeout=timeout, **_kernel_manager(Path(sockets)))
    except PapermillExecutionError as err:
        raise ChapterFailed(
            f"{path.stem} failed in cell [{err.exec_count}]: {err.ename}: {err.evalue}\n"
            f"the executed notebook, with the full traceback, is {executed}"
        ) from None
    tidy_outputs(executed)
    extract_figures(executed, out_dir / "figures")
    figures = out_dir / "figures"
    metrics = out_dir / "metrics.json"
    return RunResult(executed, out_dir, figures if figures.is_dir() else None,
                     metrics if metrics.is_file() else None)


def _kernel_manager(folder: Path) -> dict:
    """papermill's kernel over IPC sockets in ``folder`` (POSIX): a kernel that is only ours, on no network
    port, so ipykernel has nothing to warn about ("Kernel is running over TCP without encryption", printed
    on every run otherwise). Windows has no IPC transport in ZeroMQ: it keeps the default TCP kernel."""
    if os.name == "nt":
        return {}
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return str(folder / "kernel")

    return {"kernel_manager_class": IPCKernelManager}


def extract_figures(notebook: Path, folder: Path) -> list[Path]:
    """Write every PNG output of ``notebook`` to ``folder/cellNN-K.png`` (NN = the cell's index); return the paths."""
    import base64

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    written = []
    for i, cell in enumerate(nb.cells):
        k = 0
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            png = out.get("data", {}).get("image/png")
            if png:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"cell{i:02d}-{k}.png"
                path.write_bytes(base64.b64decode(png if isinstance(png, str) else "".join(png)))
                written.append(path)
                k += 1
    return written


def _collapse_stream(text: str) -> str:
    """What a terminal shows of ``text``: on each line, only what follows the last carriage return."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


_PROGRESS_RE = re.compile(r"\d+%\|[^|\n]*\|\s*[\d.]+[kM]?/[\d.]+[kM]?|\bit/s\]|s/it\]")  # a tqdm bar


def tidy_outputs(path: Path) -> None:
    """Make an executed notebook read as a student sees it: consecutive stream outputs merged and
    progress-bar redraws (``\r``) collapsed to their final state, progress-bar lines and empty stderr
    streams dropped; ``metadata.widgets`` (the saved widget state) kept only when an output shows one of its
    widgets (an explorer, which then renders without a kernel), else dropped as stale."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    shown = {out.get("data", {}).get("application/vnd.jupyter.widget-view+json", {}).get("model_id")
             for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])}
    if not shown & set(state):
        nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                    and merged[-1]["name"] == out["name"]):
                merged[-1]["text"] += out["text"]
            else:
                merged.append(out)
        kept = []
        for out in merged:
            if out.get("output_type") == "stream":
                out["text"] = _collapse_stream(out["text"])
                if out["name"] == "stderr":
                    out["text"] = "\n".join(l for l in out["text"].split("\n") if not _PROGRESS_RE.search(l))
                    if not out["text"].strip():
                        continue  # an empty stderr box (a progress bar that closed) shows nothing useful
            kept.append(out)
        cell.outputs = kept
    nbformat.write(nb, str(path))


class ChapterFailed(Exception):
    """A cell of the chapter raised; the executed notebook holds the traceback."""


# ----------------------------------------------------------------------------- commands
def _cmd_list(args) -> int:
    chapters = all_chapters(args.notebooks)
    if not chapters:
        print(f"no chapters (NN_topic.ipynb) in {notebooks_dir(args.notebooks)}")
        return 0
    for path in chapters:
        ch = chapter_info(path)
        params = ", ".join(f"{n}={p['default']}" for n, p in ch.parameters.items()) or "-"
        print(f"{ch.number}  {ch.title}\n    {ch.stem}.ipynb | parameters: {params}")
    return 0


def _cmd_run(args) -> int:
    profile = _check_profile(args.profile)
    specs = args.chapter
    if specs == ["all"]:
        specs = [p.stem for p in all_chapters(args.notebooks)]
    paths = [resolve_chapter(s, args.notebooks) for s in specs]  # fail on user errors before any run
    for raw in args.param:
        parse_param(raw)
    if args.out and len(paths) > 1:
        raise UserError("--out names one run folder; give one chapter, or leave --out out.")
    for path in paths:
        print(f"running {path.stem} with profile {profile}{' (in place)' if args.inplace else ''} ...", flush=True)
        res = run_chapter(path.stem, profile, args.param, args.out, args.notebooks, args.timeout, args.inplace)
        print(f"executed notebook: {res.notebook}")
        print(f"figures:           {res.figures or '(none written)'}")
        print(f"metrics:           {res.metrics or '(none written)'}")
    return 0


def _cmd_student(args) -> int:
    from . import student

    paths = [resolve_chapter(c, args.notebooks) for c in args.chapters] or all_chapters(args.notebooks)
    if not paths:
        raise UserError(f"no chapters (NN_topic.ipynb) in {notebooks_dir(args.notebooks)}")
    out = Path(args.out) if args.out else (config.repo_root() or Path.cwd()) / "student"
    for written in student.generate(paths, out):
        print(f"student version: {written}")
    return 0


def _cmd_report(args) -> int:
    from . import report

    try:
        page = report.build(args.profile or config.profile(), args.out, only=args.only)
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err)) from None
    print(f"results page: {page}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gantut", description="The gantut chapters from the command line.")
    parser.add_argument("--notebooks", help="the chapters' folder (default: the checkout's notebooks/ "
                                            "or $GANTUT_NOTEBOOKS)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{list,run,student,report}")

    p = sub.add_parser("list", help="the chapters with their titles and parameters")
    p.set_defaults(fn=_cmd_list)

    p = sub.add_parser("run", help="execute a chapter headless into runs/")
    p.add_argument("chapter", nargs="+", help='one or more chapters: a number ("01" or "1"), a notebook name, or "all"')
    p.add_argument("--profile", help="smoke | cpu | gpu (default: GANTUT_PROFILE, else gpu with CUDA, else cpu)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter of the notebook's parameters cell (repeatable); "
                        "values are Python literals, anything else is a string")
    p.add_argument("--out", help="the run folder (default: runs/<chapter>/<timestamp>-<profile>/)")
    p.add_argument("--timeout", type=int, default=None, help="seconds allowed per cell (default: none)")
    p.add_argument("--inplace", action="store_true",
                   help="write the executed notebook over the chapter (refresh its committed outputs)")
    p.set_defaults(fn=_cmd_run)

    p = sub.add_parser("student", help="student versions (nbgrader: solutions stripped)")
    p.add_argument("chapters", nargs="*", help="chapters (default: all)")
    p.add_argument("--out", help="output folder (default: student/ in the checkout)")
    p.set_defaults(fn=_cmd_student)

    p = sub.add_parser("report", help="every seed's claim beside ours: runs the results tables, writes results.md")
    p.add_argument("--profile", help="smoke (tiny budgets, into runs/report/) | cpu (the tables' defaults, into docs/)")
    p.add_argument("--out", help="the folder of results.md / results.json (default: docs/ for cpu, runs/report/ else)")
    p.add_argument("--only", nargs="+", choices=("2d", "mnist", "images"), default=None,
                   help="rerun only these tables; the others are read from their last JSON in the output folder")
    p.set_defaults(fn=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None, notebooks: str | Path | None = None) -> int:
    """Entry point of the ``gantut`` command; returns the exit status (0 = success).

    ``notebooks`` overrides the chapters' folder (as ``--notebooks`` does).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the error (or --help)
        return int(exit_.code or 0)
    if notebooks is not None and args.notebooks is None:
        args.notebooks = notebooks
    try:
        return args.fn(args)
    except (UserError, ChapterFailed) as err:
        print(f"gantut {args.command}: error: {err}", file=sys.stderr)
        return 1
    except ImportError as err:  # e.g. nbgrader missing for `gantut student`: the message names the fix
        print(f"gantut {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
