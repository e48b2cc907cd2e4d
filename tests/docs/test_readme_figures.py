"""README.md's figures are what its commands print now (issue 17): every figure block is a
transcript that this test runs again on the shared real candles and compares, line by line.

A block in README.md::

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
what the Makefile runs once the virtualenv exists, ``python -m rebalance_plugin.demo``, with the
demo's config file pointed at the scratch one (the demo reads ``config.json`` at the
repository's root and writes its results into the config's ``user_data_dir``; running ``make``
itself would reinstall the package whenever pyproject.toml is newer than the virtualenv).

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

# ``docs``: this file's kind (pyproject.toml). ``backtest`` too, while tests/conftest.py's KINDS
# lacks ``docs``: without a kind of KINDS the folder mapping would add ``unit``, and a unit test
# may not start Freqtrade's backtesting (the README's commands do, in subprocesses).
pytestmark = pytest.mark.docs

README = ROOT / "README.md"
#: The blocks the README must mark (issue 17): a marker lost in an edit is a failure, not a
#: block silently left unchecked.
EXPECTED_BLOCKS = ("demo", "auto-invest", "tax", "sweep")
ELLIPSIS = "..."
PROMPT = "$ "
VENV_BIN = Path(sys.executable).parent
PROGRAMS = ("python", "freqtrade", "freqtrade-rebalance")
TIMEOUT = 900  # seconds per command: a hung command fails, never hangs the suite

MARKER = re.compile(r"<!-- figures: ([\w-]+)[^>]*-->\n```[^\n]*\n(.*?)```\n<!-- /figures -->", re.S)


@dataclass
class Step:
    """One command of a block and the excerpt of its output the README shows (maybe none)."""

    command: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    name: str
    steps: list[Step]


def parse_readme(text: str) -> list[Block]:
    """The marked figure blocks, in the README's order."""
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
                raise ValueError(f"README figure block {name!r}: output before any '$ ' command")
        blocks.append(Block(name, steps))
    return blocks


BLOCKS = parse_readme(README.read_text(encoding="utf-8"))


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


def mismatch_report(block: str, step: Step, output: str) -> str:
    """The README's excerpt, the nearest part of the output, and each README line not printed
    now beside the nearest line that is."""
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
            differ += [f"  README: {line}", f"  now:    {now}"]
    return "\n".join(
        [
            f"README.md's figure block {block!r}: `{step.command}` no longer prints what the "
            "README shows. Update the block to the command's output (or fix the command).",
            "The README shows:",
            *(f"  | {line}" for line in step.expected),
            "The command prints now (its nearest part):",
            *(f"  | {line}" for line in window),
            "README lines it does not print now, beside the nearest line it prints:",
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
    # the test's own environment may hold a developer's FREQTRADE__ settings: not the README's
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREQTRADE__")}
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words == ["make", "demo"]:
        demo = (
            "import sys; from pathlib import Path; import rebalance_plugin.demo as demo; "
            f"demo.CONFIG = Path({str(checkout / 'config.json')!r}); sys.exit(demo.main())"
        )
        return [sys.executable, "-c", demo], env
    program = words[0].removeprefix(".venv/bin/") if words else ""
    if program not in PROGRAMS:
        raise AssertionError(
            f"README figure command `{command}`: this test runs `make demo` and "
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
        f"README figure command `{command}` exited with {done.returncode}:\n"
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
def test_the_readme_marks_its_figure_blocks():
    text = README.read_text(encoding="utf-8")
    assert [b.name for b in BLOCKS] == list(EXPECTED_BLOCKS), (
        "README.md's figure blocks (<!-- figures: NAME --> ... <!-- /figures -->) are "
        f"{[b.name for b in BLOCKS]}, expected {list(EXPECTED_BLOCKS)} in this order"
    )
    # every opening marker closes around one fenced block: none is skipped by the parser
    assert text.count("<!-- figures:") == text.count("<!-- /figures -->") == len(BLOCKS)
    for block in BLOCKS:
        assert block.steps, f"figure block {block.name!r} names no '$ ' command"
        shown = [line for step in block.steps for line in step.expected]
        assert any(re.search(r"\d", line) for line in shown), f"{block.name!r} shows no figure"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_readme_figures_are_what_the_commands_print(block: Block, runner: Runner):
    outputs = runner.outputs(block)
    failures = [
        mismatch_report(block.name, step, out.printed)
        for step, out in zip(block.steps, outputs, strict=True)
        if step.expected
        and not (shows(step.expected, out.stdout) or shows(step.expected, out.stderr))
    ]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_a_changed_figure_in_the_readme_would_fail(block: Block, runner: Runner):
    """The comparison can fail: the README's block with any one line's last digit changed by
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
                f"{block.name!r}: the README line {line!r} changed to {changed!r} still matches"
            )
            assert f"README: {changed}" in mismatch_report(
                block.name, Step("", expected), out.stdout
            )
            checked += 1
    assert checked, f"{block.name!r}: no figure line was checked"
