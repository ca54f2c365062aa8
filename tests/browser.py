"""Headless Chromium for the HTML report tests: a page's screenshot, its DOM after loading, and
its console errors (Debian's chromium package; .ci/run installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it")
        pytest.skip("no chromium here (apt-get install chromium); CI has it")
    return browser


def load(page: Path, work: Path, shot: Path | None = None) -> tuple[str, list[str]]:
    """(the DOM Chromium built, its console lines); with `shot`, a 1200x1600 screenshot there too."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={work / 'chromium-profile'}"]
    if shot is not None:
        p = subprocess.run([*args, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
                           capture_output=True, text=True, timeout=120)
        assert shot.is_file(), p.stderr[-2000:]
    # Console errors (a broken image, a script error) are logged at level >= 1 with --enable-logging.
    p = subprocess.run([*args, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    return p.stdout, [ln for ln in p.stderr.splitlines() if "CONSOLE" in ln]
