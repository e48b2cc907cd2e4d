"""The figures of README.md and the docs' pages (docs/*.md) are what their commands print now
(issue 17; issue 18 moved the manual into docs/): every figure block is a transcript that this
test runs again on the shared real candles and compares, line by line.

A block in README.md or a page of docs/::

    <!-- figures: NAME (any note) -->
    ```
    $ COMMAND                      a line ending in a backslash goes on on the next one
    WHAT IT PRINTS                 an excerpt of the command's output: contiguous lines,
    ...                            verbatim but for trailing spaces; a line "..." stands for
    ```                            any number of lines, "..." inside a line for any text
    <!-- /figures -->

The commands run as a user types them at the checkout's root, in a scratch copy of its layout
(so nothing is written into the repository, and two runs never share a results folder):
``checkout/config.json`` is the repository's with ``user_data_dir`` pointed into the scratch
folder and the strategy and hyperopt folders at the repository's, and ``shared`` beside
``checkout`` links to the real candles beside the repository, so ``-c config.json``,
``../shared/data/binance`` and the default ``user_data/...`` outputs resolve as in a checkout.
``python``, ``freqtrade`` and ``freqtrade-rebalance`` (bare or ``.venv/bin/``) are the
virtualenv's; ``NAME=VALUE`` words before the program are its environment. ``make demo`` is
what the Makefile runs once the virtualenv exists, ``python -m tools.demo`` (a tool of the
repository, outside the shipped package), with the demo's config file pointed at the scratch one
(the demo reads ``config.json`` at the repository's root and writes its results into the
config's ``user_data_dir``; running ``make`` itself would reinstall the package whenever
pyproject.toml is newer than the virtualenv).

Blocks whose commands start with another block's commands continue in that block's folder
(the tax block's ``make demo`` is the demo block's run), so each command runs once.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT, SHARED_DATA

# ``docs``: this file's kind (pyproject.toml; tests/conftest.py's KINDS), so the folder mapping adds
# no ``unit``: a unit test may not start Freqtrade's backtesting (the pages' commands do, in
# subprocesses).
pytestmark = pytest.mark.docs

README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: The blocks the pages must mark, each on its page (issue 17; the manual's pages since issue
#: 18), in the order of :func:`pages`: a marker lost in an edit is a failure, not a block
#: silently left unchecked, and so is a block moved to another page without this list.
EXPECTED_BLOCKS = (
    ("README.md", "demo"),
    ("README.md", "walkforward"),
    ("docs/auto-invest.md", "auto-invest"),
    ("docs/sweep.md", "sweep"),
    ("docs/taxes.md", "tax"),
)
ELLIPSIS = "..."
PROMPT = "$ "
VENV_BIN = Path(sys.executable).parent
PROGRAMS = ("python", "freqtrade", "freqtrade-rebalance")
TIMEOUT = 900  # seconds per command: a hung command fails, never hangs the suite

MARKER = re.compile(r"<!-- figures: ([\w-]+)[^>]*-->\n```[^\n]*\n(.*?)```\n<!-- /figures -->", re.S)


@dataclass
class Step:
    """One command of a block and the excerpt of its output the page shows (maybe none)."""

    command: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    name: str
    steps: list[Step]
    page: str = "README.md"


def pages() -> list[Path]:
    """The pages that may hold figure blocks: the front page, then the manual's, by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


def page_name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def parse_readme(text: str, page: str = "README.md") -> list[Block]:
    """The marked figure blocks of one page, in its order."""
    blocks = []
    for name, body in MARKER.findall(text):
        steps: list[Step] = []
        lines = iter(body.splitlines())
        for line in lines:
            if line.startswith(PROMPT):
                command = line[len(PROMPT) :]
                while command.endswith("\\"):
                    command = command[:-1] + " " + next(lines).strip()
                steps.append(Step(" ".join(command.split())))
            elif steps:
                steps[-1].expected.append(line.rstrip())
            else:
                raise ValueError(f"{page} figure block {name!r}: output before any '$ ' command")
        blocks.append(Block(name, steps, page))
    return blocks


BLOCKS = [
    block
    for path in pages()
    for block in parse_readme(path.read_text(encoding="utf-8"), page_name(path))
]
#: Blocks rerun by a file of their own (tests/docs/test_walkforward_figures.py), so that another
#: xdist worker runs them beside this file's (``make test`` distributes by file).
OWN_FILE = {"walkforward"}
HERE = [b for b in BLOCKS if b.name not in OWN_FILE]


# ---- comparing an excerpt with an output -------------------------------------------------------
def _line_pattern(line: str) -> str:
    return ".*?".join(re.escape(part) for part in line.split(ELLIPSIS))


def excerpt_pattern(expected: list[str]) -> re.Pattern[str]:
    """Contiguous lines from a line's start; a "..." line skips any lines, "..." any text."""
    parts = [
        r"(?:[^\n]*\n)*?" if line.strip() == ELLIPSIS else _line_pattern(line) + r"\n"
        for line in expected
    ]
    return re.compile("^" + "".join(parts), re.M)


def normalise(output: str) -> str:
    return "".join(line.rstrip() + "\n" for line in output.splitlines())


def shows(expected: list[str], output: str) -> bool:
    return excerpt_pattern(expected).search(normalise(output)) is not None


def mismatch_report(block: str, step: Step, output: str, page: str = "README.md") -> str:
    """The page's excerpt, the nearest part of the output, and each line of the page not
    printed now beside the nearest line that is."""
    out_lines = normalise(output).splitlines()
    figures = [line for line in step.expected if line.strip() != ELLIPSIS]

    def nearest(line: str) -> int:
        ratios = [difflib.SequenceMatcher(None, line, o).ratio() for o in out_lines]
        return max(range(len(ratios)), key=ratios.__getitem__) if ratios else 0

    first, last = nearest(figures[0]), nearest(figures[-1])
    if last < first:
        last = first + len(step.expected)
    window = out_lines[first : last + 1]
    differ = []
    for line in figures:
        if not any(re.fullmatch(_line_pattern(line), o) for o in out_lines):
            now = out_lines[nearest(line)] if out_lines else "(no output)"
            differ += [f"  {page}: {line}", f"  {'now:':<{len(page) + 1}} {now}"]
    return "\n".join(
        [
            f"{page}'s figure block {block!r}: `{step.command}` no longer prints what the "
            "page shows. Update the block to the command's output (or fix the command).",
            f"{page} shows:",
            *(f"  | {line}" for line in step.expected),
            "The command prints now (its nearest part):",
            *(f"  | {line}" for line in window),
            f"{page} lines it does not print now, beside the nearest line it prints:",
            *(differ or ["  (each line is printed, but not together in this order)"]),
        ]
    )


# ---- running the commands ----------------------------------------------------------------------
@dataclass
class Output:
    stdout: str
    stderr: str
    seconds: float

    @property
    def printed(self) -> str:
        return self.stdout + "\n" + self.stderr


@dataclass
class Workspace:
    checkout: Path
    history: list[str] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)


def new_workspace(base: Path) -> Workspace:
    checkout = base / "checkout"
    (checkout / "user_data").mkdir(parents=True)
    (base / "shared").symlink_to(SHARED_DATA.parents[1], target_is_directory=True)
    config = json.loads((ROOT / "config.json").read_text())
    config["user_data_dir"] = str(checkout / "user_data")
    config["strategy_path"] = str(ROOT / "strategies")
    config["hyperopt_path"] = str(ROOT / "hyperopts")
    (checkout / "config.json").write_text(json.dumps(config, indent=4))
    return Workspace(checkout)


def argv_env(command: str, checkout: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and environment a user's shell would run ``command`` with."""
    words = shlex.split(command)
    # the test's own environment may hold a developer's FREQTRADE__ settings: not the page's
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREQTRADE__")}
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words == ["make", "demo"]:
        demo = (
            f"import sys; from pathlib import Path; sys.path.insert(0, {str(ROOT)!r}); "
            "import tools.demo as demo; "
            f"demo.CONFIG = Path({str(checkout / 'config.json')!r}); sys.exit(demo.main())"
        )
        return [sys.executable, "-c", demo], env
    program = words[0].removeprefix(".venv/bin/") if words else ""
    if program not in PROGRAMS:
        raise AssertionError(
            f"Figure command `{command}`: this test runs `make demo` and "
            f"{', '.join(PROGRAMS)} (bare or .venv/bin/), not {words[:1]}"
        )
    exe = sys.executable if program == "python" else str(VENV_BIN / program)
    return [exe, *words[1:]], env


def run(command: str, checkout: Path) -> Output:
    argv, env = argv_env(command, checkout)
    began = time.monotonic()
    done = subprocess.run(
        argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    seconds = time.monotonic() - began
    assert done.returncode == 0, (
        f"Figure command `{command}` exited with {done.returncode}:\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    print(f"{seconds:6.1f} s  {command}")
    return Output(done.stdout, done.stderr, seconds)


def _either_begins_the_other(a: list[str], b: list[str]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


class Runner:
    """Runs the blocks' commands once each: a block whose commands begin with all those run in
    an earlier block's folder continues there, and one whose commands were all run there
    already takes their outputs."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.workspaces: list[Workspace] = []

    def outputs(self, block: Block) -> list[Output]:
        commands = [step.command for step in block.steps]
        found = [w for w in self.workspaces if _either_begins_the_other(commands, w.history)]
        ws = max(found, key=lambda w: len(w.history), default=None)
        if ws is None:
            ws = new_workspace(self.factory.mktemp(f"readme-{block.name}"))
            self.workspaces.append(ws)
        for command in commands[len(ws.history) :]:
            ws.outputs.append(run(command, ws.checkout))
            ws.history.append(command)
        return ws.outputs[: len(commands)]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Runner:
    return Runner(tmp_path_factory)


# ---- the tests ---------------------------------------------------------------------------------
def test_the_pages_mark_their_figure_blocks():
    found = [(b.page, b.name) for b in BLOCKS]
    assert found == list(EXPECTED_BLOCKS), (
        "The figure blocks (<!-- figures: NAME --> ... <!-- /figures -->) of README.md and "
        f"docs/*.md are {found}, expected {list(EXPECTED_BLOCKS)} (page, block) in this order"
    )
    # every opening marker closes around one fenced block: none is skipped by the parser
    for path in pages():
        text = path.read_text(encoding="utf-8")
        on_page = [b for b in BLOCKS if b.page == page_name(path)]
        assert text.count("<!-- figures:") == text.count("<!-- /figures -->") == len(on_page), (
            f"{page_name(path)}: a figure marker the parser does not read as a block"
        )
    for block in BLOCKS:
        assert block.steps, f"figure block {block.name!r} names no '$ ' command"
        shown = [line for step in block.steps for line in step.expected]
        assert any(re.search(r"\d", line) for line in shown), f"{block.name!r} shows no figure"


LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub and MkDocs's ``toc`` both make it for plain words."""
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[\s]+", "-", text)


def test_the_front_page_links_resolve():
    """README.md's links into the repository (docs/*.md, with or without a heading) lead to a
    file and heading that exist: on GitHub nothing checks them, and ``mkdocs build --strict``
    (``make docs``) checks only the pages of docs/."""
    broken = []
    for target in LINK.findall(README.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        file = ROOT / path if path else README
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), re.M)
            if anchor not in {slug(h) for h in headings}:
                broken.append(target)
    assert not broken, f"README.md links to missing files or headings: {broken}"


@pytest.mark.parametrize("block", HERE, ids=[b.name for b in HERE])
def test_readme_figures_are_what_the_commands_print(block: Block, runner: Runner):
    check_figures(block, runner)


@pytest.mark.parametrize("block", HERE, ids=[b.name for b in HERE])
def test_a_changed_figure_in_the_readme_would_fail(block: Block, runner: Runner):
    check_can_fail(block, runner)


def check_figures(block: Block, runner: Runner) -> None:
    """The block's figures are what its commands print now."""
    outputs = runner.outputs(block)
    failures = [
        mismatch_report(block.name, step, out.printed, block.page)
        for step, out in zip(block.steps, outputs, strict=True)
        if step.expected
        and not (shows(step.expected, out.stdout) or shows(step.expected, out.stderr))
    ]
    assert not failures, "\n\n".join(failures)


def check_can_fail(block: Block, runner: Runner) -> None:
    """The comparison can fail: the page's block with any one line's last digit changed by
    one is no longer what the command prints, and the report names that line."""
    outputs = runner.outputs(block)
    checked = 0
    for step, out in zip(block.steps, outputs, strict=True):
        for i, line in enumerate(step.expected):
            digits = [m.start() for m in re.finditer(r"\d", line)]
            if not digits or line.strip() == ELLIPSIS:
                continue
            at = digits[-1]
            changed = line[:at] + str((int(line[at]) + 1) % 10) + line[at + 1 :]
            expected = [*step.expected[:i], changed, *step.expected[i + 1 :]]
            assert not shows(expected, out.printed), (
                f"{block.name!r}: the {block.page} line {line!r} changed to {changed!r} still "
                "matches"
            )
            assert f"{block.page}: {changed}" in mismatch_report(
                block.name, Step("", expected), out.stdout, block.page
            )
            checked += 1
    assert checked, f"{block.name!r}: no figure line was checked"
