"""The canary of every reach into a library's internals (chat_server/transport/reaches.py):
an upgrade that breaks one fails here, naming it, the version it was checked against and
what it buys; --stock-transport is the fallback (tests/server/test_stock_transport.py)."""

from __future__ import annotations

import pytest

from chat_server.transport.reaches import REACHES, Reach, installed


@pytest.mark.parametrize("reach", REACHES, ids=[r.name.split("(")[0] for r in REACHES])
def test_every_reach_still_finds_what_it_relies_on(reach: Reach) -> None:
    problem = reach.canary()
    assert problem is None, (
        f"{reach.name}: {problem}. Checked against {reach.library} {reach.checked}, "
        f"installed {installed(reach.library)}. It buys: {reach.buys}. "
        "Fix the reach, or run with --stock-transport (docs/architecture.md)."
    )


def test_every_reached_library_is_pinned_to_the_version_checked() -> None:
    """pyproject.toml pins each library reached into to a compatible release of the
    version its reaches were checked against."""
    import tomllib
    from pathlib import Path

    deps = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = " ".join(deps["project"]["dependencies"])
    for library, checked in {(r.library, r.checked) for r in REACHES}:
        assert f"{library}~={checked}" in pins or (
            f"{library}[" in pins and f"~={checked}" in pins
        ), f"{library} is reached into (checked against {checked}) but not pinned ~={checked}"
        assert installed(library).startswith(checked.rsplit(".", 1)[0]), (
            f"{library} {installed(library)} installed; reaches were checked against {checked}"
        )
