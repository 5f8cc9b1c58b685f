"""The examples and the README demo run as users run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clihelp import REPO


def test_embedding_example(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lp.sqlite'}"
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "embed.py"), url],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "workflow 'embedded': COMPLETED" in out.stdout
    assert "square 3: COMPLETED -> 9" in out.stdout


def test_readme_demo(tmp_path: Path) -> None:
    env = {**os.environ, "AFW_DEMO_DIR": str(tmp_path / "demo")}
    env.pop("AFW_LAUNCHPAD", None)
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "COMPLETED Fireworks: 10 of 10" in out.stdout


def test_readme_starts_with_the_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    blocks = [b for b in text.split("```") if b.strip().startswith(("bash", "sh"))]
    commands = [ln for ln in blocks[0].splitlines()[1:] if ln.strip() and not ln.startswith("#")]
    assert commands == ["bash scripts/demo", "bash scripts/test"]
    assert "bash scripts/test" in (REPO / ".ci" / "run").read_text()
