"""The wheel: both commands, the package data, nothing from tests/ or bench/, the license
as an SPDX expression (no setuptools deprecation warning at every install). Built
offline (--no-build-isolation, with the dev extra's setuptools and wheel)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_the_two_programs_and_nothing_else(tmp_path: Path) -> None:
    # built from a copy: a build/ folder left in the checkout could hold stale files
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for package in ("chat_server", "chat_tui", "tests", "bench"):
        shutil.copytree(
            ROOT / package,
            source / package,
            ignore=shutil.ignore_patterns("__pycache__", "node_modules"),
        )
    out = tmp_path / "dist"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
            *("--no-cache-dir", "-w", str(out), str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Deprecat" not in done.stdout + done.stderr  # SetuptoolsDeprecationWarning
    (wheel,) = out.glob("chat_private_messaging-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = z.read(info).decode()
        entry_points = z.read(info.replace("METADATA", "entry_points.txt")).decode()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"chat_server", "chat_tui", info.split("/")[0]}, tops
    assert "chat_tui/app.tcss" in names and "chat_server/py.typed" in names
    assert "chat-server = chat_server.cli:main" in entry_points
    assert "chat-tui = chat_tui.cli:main" in entry_points
    assert "License-Expression: MIT" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
