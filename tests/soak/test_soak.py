"""The soak (issue 20, item 6): a seeded random schedule against the Binance stand-in replaying
real history at accelerated time (``--speed``) over two simulated weeks, several live bots on one
account, and the invariants after every step (tests/soak/harness.py, events.py, invariants.py).

``make test-soak`` runs the seeds of :data:`tests.soak.harness.SEEDS`; ``SOAK_SEED=N make
test-soak`` replays seed N (``SOAK_SEED=4,5``: several), ``SOAK_DAYS`` and ``SOAK_SPEED`` change
the simulated days and the history per wall second. Every failure names its seed and the
command that replays it; the figures of each seed are printed at the end.
"""

from __future__ import annotations

import pytest

from tests.soak.events import world
from tests.soak.harness import DAYS, SPEED, Soak, seeds, setting

pytestmark = pytest.mark.soak


@pytest.mark.parametrize("seed", seeds())
def test_soak(seed, tmp_path, capsys):
    def say(line: str) -> None:
        with capsys.disabled():
            print(line, flush=True)

    replay = f"replay: SOAK_SEED={seed} make test-soak"
    soak = Soak(
        world(seed),
        tmp_path,
        days=setting("SOAK_DAYS", DAYS),
        speed=setting("SOAK_SPEED", SPEED),
        say=say,
    )
    try:
        figures = soak.run()
    except Exception as err:
        raise AssertionError(
            f"soak seed {seed} stopped at {soak.event}: {err!r}\n{replay}"
        ) from err
    say("\n".join(figures.lines()))
    assert figures.simulated_days >= setting("SOAK_DAYS", DAYS), (figures.lines(), replay)
    assert not figures.violations, (
        f"soak seed {seed}: {len(figures.violations)} violations\n"
        + "\n".join(str(v) for v in figures.violations)
        + f"\n{replay}"
    )
