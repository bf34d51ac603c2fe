"""The ``gantut`` commands shown in README.md, docs/*.md and data/README.md must work as written.

Every line of a fenced shell block (```bash, ```sh, ```shell, ```console) that starts with
``gantut `` is checked with the command's own parser and chapter functions (``gantut.cli``), and so
is every inline code span in prose of the form `gantut run NN ...` with a real chapter number:

* it parses (``gantut.cli.build_parser``), and a ``--profile`` is one of the profiles;
* ``gantut run NN ... -p key=value``: chapter NN exists (``resolve_chapter``), every ``-p`` is
  well formed (``parse_param``) and names a variable of that chapter's ``parameters`` cell
  (``chapter_info(...).parameters``, what ``gantut list`` prints and ``gantut run`` enforces);
* ``gantut student NN ...``: every chapter exists;
* ``gantut list`` is run for real (a few seconds) and must list every chapter.

``gantut run`` is not executed (minutes per chapter), except for a command whose line ends with
the comment ``# smoke-cheap``: that one runs for real, into a temporary folder, and must give
``--profile smoke``. Relative links ``[text](file.md#anchor)`` in the same files and in the
notebooks' markdown cells are checked too: the file exists and the anchor is one of its headings.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from gantut import cli, config

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "data" / "README.md"]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)")
SMOKE_CHEAP = "smoke-cheap"


# ----------------------------------------------------------------------------- extracting commands
def shell_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(line number of the block's first line, its lines) for every fenced shell block."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, language = m.group(1), m.group(2).lower()
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence[0] * len(fence)):
            body.append(lines[j])
            j += 1
        if language in SHELL_LANGUAGES:
            blocks.append((i + 2, body))
        i = j + 1
    return blocks


def gantut_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) for every line of a shell block that starts with ``gantut ``.

    Backslash continuations are joined and a ``$ `` prompt is dropped."""
    commands = []
    for first, body in shell_blocks(text):
        k = 0
        while k < len(body):
            number, line = first + k, body[k].strip()
            while line.endswith("\\") and k + 1 < len(body):
                k += 1
                line = line[:-1] + " " + body[k].strip()
            if line.startswith("$ "):
                line = line[2:].lstrip()
            if line.startswith("gantut ") or line == "gantut":
                commands.append((number, line))
            k += 1
    return commands


INLINE_CODE = re.compile(r"(?<!`)`(gantut run [^`]+)`(?!`)")


def inline_run_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) for inline code spans in prose such as `gantut run 02 -p n_seeds=5`.

    Only spans naming a chapter number (or ``all``) are taken: `gantut run NN` is a placeholder."""
    found, in_fence = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for command in INLINE_CODE.findall(line):
            first = command.split()[2] if len(command.split()) > 2 else ""
            if first.isdigit() or first == "all":
                found.append((number, command))
    return found


def is_smoke_cheap(command: str) -> bool:
    """A command flagged to be executed for real: its trailing comment is ``# smoke-cheap``."""
    _, sep, comment = command.partition("#")
    return bool(sep) and comment.strip() == SMOKE_CHEAP


# ----------------------------------------------------------------------------- checking one command
@lru_cache(maxsize=None)
def _parameters(path: Path) -> tuple[str, ...]:
    return tuple(cli.chapter_info(path).parameters)


def check_command(command: str) -> list[str]:
    """What is wrong with one ``gantut ...`` command line (an empty list when nothing is)."""
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError as err:
        return [f"cannot split {command!r} like a shell: {err}"]
    err_stream = io.StringIO()
    try:
        with contextlib.redirect_stderr(err_stream), contextlib.redirect_stdout(io.StringIO()):
            args = cli.build_parser().parse_args(tokens[1:])
    except SystemExit:
        return [f"{command!r} does not parse: {err_stream.getvalue().strip().splitlines()[-1:]}"]

    problems = []
    nb_dir = args.notebooks
    if args.command == "run":
        if args.profile is not None and args.profile not in config.PROFILES:
            problems.append(f"unknown profile {args.profile!r} (profiles: {', '.join(config.PROFILES)})")
        specs = args.chapter
        if specs == ["all"]:
            paths = cli.all_chapters(nb_dir)
        else:
            paths = []
            for spec in specs:
                try:
                    paths.append(cli.resolve_chapter(spec, nb_dir))
                except cli.UserError as err:
                    problems.append(str(err))
        names = []
        for raw in args.param:
            try:
                names.append(cli.parse_param(raw)[0])
            except cli.UserError as err:
                problems.append(str(err))
        for path in paths:
            declared = _parameters(path)
            for name in names:
                if name not in declared:
                    problems.append(f"{path.stem} has no parameter {name!r}; its parameters: {', '.join(declared)}")
    elif args.command == "student":
        for spec in args.chapters:
            try:
                cli.resolve_chapter(spec, nb_dir)
            except cli.UserError as err:
                problems.append(str(err))
    return problems


# ----------------------------------------------------------------------------- the documented commands
def _documented() -> list[tuple[str, int, str]]:
    found = []
    for path in DOC_FILES:
        if path.exists():
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            found += [(rel, n, c) for n, c in gantut_commands(text) + inline_run_commands(text)]
    return found


DOCUMENTED = _documented()


def test_the_docs_show_gantut_commands():
    readme = [c for f, _, c in DOCUMENTED if f == "README.md"]
    assert any(c.startswith("gantut run") for c in readme), DOCUMENTED
    assert any(c.startswith("gantut list") for c in readme), DOCUMENTED


@pytest.mark.parametrize("file, line, command", DOCUMENTED, ids=[f"{f}:{n}" for f, n, _ in DOCUMENTED])
def test_documented_command_is_valid(file: str, line: int, command: str):
    problems = check_command(command)
    assert not problems, f"{file}:{line}: {command}\n  " + "\n  ".join(problems)


def _gantut(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "gantut.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_gantut_list_runs_and_lists_every_chapter():
    if not any(c.split("#")[0].split() == ["gantut", "list"] for _, _, c in DOCUMENTED):
        pytest.skip("no `gantut list` in the docs")
    res = _gantut("list")
    assert res.returncode == 0, res.stderr
    for path in cli.all_chapters():
        assert f"{path.stem}.ipynb" in res.stdout, (path.stem, res.stdout)
        for name in _parameters(path):
            assert f"{name}=" in res.stdout, (path.stem, name)


def test_smoke_cheap_commands_run(tmp_path):
    """Commands flagged ``# smoke-cheap`` run for real in the smoke profile (none may be flagged)."""
    for i, (file, line, command) in enumerate(c for c in DOCUMENTED if is_smoke_cheap(c[2])):
        tokens = shlex.split(command, comments=True)
        assert tokens[1] == "run" and "--profile" in tokens and tokens[tokens.index("--profile") + 1] == "smoke", (
            f"{file}:{line}: a smoke-cheap command must be `gantut run ... --profile smoke`")
        res = _gantut(*tokens[1:], "--out", str(tmp_path / str(i)), timeout=600)
        assert res.returncode == 0, f"{file}:{line}: {command}\n{res.stdout}\n{res.stderr}"


def smoke_version(command: str) -> list[str]:
    """The arguments that run a documented ``gantut run`` command in the smoke profile: its chapter and
    ``-p`` parameters as written, ``--profile smoke`` in place of any profile, no ``--inplace`` (the committed
    notebooks stay as they are; the run goes to a temporary ``--out``)."""
    tokens = shlex.split(command, comments=True)[1:]
    out, skip = [], False
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        if tok == "--profile":
            skip = True
            continue
        if tok in ("--inplace",):
            continue
        out.append(tok)
    return out + ["--profile", "smoke"]


RUN_COMMANDS = sorted({tuple(smoke_version(c)) for _, _, c in DOCUMENTED
                       if shlex.split(c, comments=True)[1:2] == ["run"]
                       and shlex.split(c, comments=True)[2:3] != ["all"]})


@pytest.mark.parametrize("args", RUN_COMMANDS, ids=[" ".join(a) for a in RUN_COMMANDS])
def test_documented_run_command_runs_in_the_smoke_profile(args, tmp_path):
    """Every ``gantut run`` the README and docs show runs, with its parameters, in the smoke profile."""
    res = _gantut(*args, "--out", str(tmp_path / "run"), timeout=600)
    assert res.returncode == 0, f"gantut {' '.join(args)}\n{res.stdout}\n{res.stderr[-2000:]}"
    assert "executed notebook:" in res.stdout


def test_smoke_version_of_a_command():
    assert smoke_version("gantut run 02 --profile gpu -p n_seeds=5  # paper scale") == [
        "run", "02", "-p", "n_seeds=5", "--profile", "smoke"]
    assert smoke_version("gantut run 01 --profile cpu --inplace") == ["run", "01", "--profile", "smoke"]


# ----------------------------------------------------------------------------- the checker on crafted text
def test_checker_flags_a_wrong_parameter_name():
    text = "Run:\n\n```bash\ngantut run 02 --profile cpu -p dataset=fashion -p seeds=3\n```\n"
    [(line, command)] = gantut_commands(text)
    assert line == 4
    problems = check_command(command)
    assert len(problems) == 1 and "'seeds'" in problems[0] and "n_seeds" in problems[0], problems
    assert check_command("gantut run 02 --profile cpu -p dataset=fashion -p n_seeds=3") == []


def test_checker_flags_other_mistakes():
    assert check_command("gantut run 42")                       # no such chapter
    assert check_command("gantut run 01 --profile laptop")      # no such profile
    assert check_command("gantut run 01 -p steps")              # malformed parameter
    assert check_command("gantut runn 01")                      # no such sub-command
    assert check_command("gantut student 99")
    assert check_command("gantut run 01 --profile smoke -p steps=10 -p n_seeds=1") == []
    assert check_command("gantut run all --profile cpu") == []
    assert check_command("gantut list   # chapters") == []


def test_extraction_rules():
    text = "\n".join([
        "```python", "gantut run 99  # python blocks are not shell", "```",
        "    gantut run 98   (indented code block: not fenced)",
        "```console", "$ gantut run 01 \\", "    --profile smoke   # smoke-cheap", "pip install x", "```",
        "````sh", "gantut list", "````",
    ])
    found = gantut_commands(text)
    assert [c for _, c in found] == ["gantut run 01  --profile smoke   # smoke-cheap", "gantut list"], found
    assert is_smoke_cheap(found[0][1]) and not is_smoke_cheap(found[1][1])
    assert not is_smoke_cheap("gantut run 01  # not smoke-cheap at all")


def test_the_old_readme_mistake_is_caught():
    """The README once showed `-p seeds=3` / `-p seeds=5`; the parameter is `n_seeds`."""
    old = ("```bash\ngantut list\ngantut run 02 --profile cpu -p dataset=fashion -p seeds=3\n```\n"
           "`gantut.by_profile(...)`; `gantut run 02 --profile gpu -p seeds=5` overrides from the shell.\n"
           "(or `gantut run NN --profile cpu --inplace`)\n")
    bad = [c for _, c in gantut_commands(old) + inline_run_commands(old) if check_command(c)]
    assert bad == ["gantut run 02 --profile cpu -p dataset=fashion -p seeds=3", "gantut run 02 --profile gpu -p seeds=5"]


# ----------------------------------------------------------------------------- relative links and anchors
LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a markdown file's headings: lower case, punctuation dropped, spaces → '-'."""
    anchors, in_fence = set(), False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        if in_fence or not re.match(r"^#{1,6} ", line):
            continue
        title = line.lstrip("#").strip().lower()
        anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _markdown_sources() -> list[tuple[str, Path, str]]:
    """(label, folder that relative links start from, markdown text)."""
    out = [(p.relative_to(ROOT).as_posix(), p.parent, p.read_text(encoding="utf-8")) for p in DOC_FILES if p.exists()]
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                src = cell["source"]
                out.append((f"{nb_path.relative_to(ROOT).as_posix()} cell {i}", nb_path.parent,
                            src if isinstance(src, str) else "".join(src)))
    return out


def broken_links(label: str, base: Path, markdown: str) -> list[str]:
    problems = []
    for target in LINK.findall(markdown):
        if re.match(r"^[a-z]+:", target) or target.startswith("<"):
            continue  # http(s):, mailto:, attachment: ...
        file_part, _, anchor = target.partition("#")
        path = (base / file_part) if file_part else None
        if path is not None and not path.exists():
            problems.append(f"{label}: link to a missing file {target}")
            continue
        if anchor and (path is None or path.suffix == ".md"):
            text = markdown if path is None else path.read_text(encoding="utf-8")
            if anchor not in heading_anchors(text):
                problems.append(f"{label}: no heading for the anchor in {target}")
    return problems


def test_relative_links_and_anchors_resolve():
    problems = [p for label, base, text in _markdown_sources() for p in broken_links(label, base, text)]
    assert not problems, "\n".join(problems)


def test_heading_anchor_rule():
    md = "# gantut — training GANs\n## Chapter 01: 2D ring and grid\n```bash\n# not a heading\n```\n### Bias versus N\n"
    assert heading_anchors(md) == {"gantut--training-gans", "chapter-01-2d-ring-and-grid", "bias-versus-n"}
    assert broken_links("x", ROOT / "docs", "[a](references.md#seed-reports)") == []
    assert broken_links("x", ROOT / "docs", "[a](references.md#no-such-heading)")
    assert broken_links("x", ROOT / "docs", "[a](no_such_file.md)")
