"""The README's walk-forward figures (its block ``walkforward``) are what the command prints now:
the same checks as tests/docs/test_readme_figures.py, in a file of their own so that another
xdist worker reruns this block (a seven-year walk-forward, about a minute) beside that file's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.test_readme_figures import (
    BLOCKS,
    OWN_FILE,
    Block,
    Runner,
    check_can_fail,
    check_figures,
)

pytestmark = pytest.mark.docs

MINE = [b for b in BLOCKS if b.name in OWN_FILE]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Runner:
    return Runner(tmp_path_factory)


def test_this_file_has_its_blocks():
    assert [b.name for b in MINE] == sorted(OWN_FILE)


@pytest.mark.parametrize("block", MINE, ids=[b.name for b in MINE])
def test_walkforward_figures_are_what_the_command_prints(block: Block, runner: Runner):
    check_figures(block, runner)


@pytest.mark.parametrize("block", MINE, ids=[b.name for b in MINE])
def test_a_changed_walkforward_figure_would_fail(block: Block, runner: Runner):
    check_can_fail(block, runner)
