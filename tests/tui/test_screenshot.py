"""docs/screenshot.py, which makes the README's picture, still runs against the app (it
had fallen behind a change of ChatApp's arguments once)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.py"


async def test_the_screenshot_script_draws_the_main_screen(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("screenshot", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "shot.svg"
    await module.main(out)
    svg = out.read_text()
    assert svg.startswith("<svg")
    for text in ("alice", "bob", "carol", "sounds&#160;good"):
        assert text in svg, text
