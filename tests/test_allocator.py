"""lpft.allocator: in the `lpft` command polars' jemalloc keeps freed pages 10 s, and a user's own
setting, or polars already imported, is left alone; importing lpft as a library sets nothing."""

import os
import subprocess
import sys

import pytest

SHOW = "import os; {first}; import polars; print(os.environ.get('_RJEM_MALLOC_CONF'))"
# The `lpft` command's own start (lpft.cli.run), its main replaced by the print above.
COMMAND = ("import lpft.cli as c, sys; c.main = lambda: exec(\"import os, polars; "
           "print(os.environ.get('_RJEM_MALLOC_CONF'))\") or 0; c.run()")


@pytest.mark.parametrize("first, user, ours", [("COMMAND", None, True), ("COMMAND", "narenas:2", False),
                                               ("import polars; COMMAND", None, False),
                                               ("import lpft, lpft.analysis.report", None, False)])
def test_the_decay_is_set_only_before_polars_and_never_over_a_users(first, user, ours):
    from lpft.allocator import DECAY

    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if user:
        env["_RJEM_MALLOC_CONF"] = user
    code = first.replace("COMMAND", COMMAND) if "COMMAND" in first else SHOW.format(first=first)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    # Polars appends the variable to its own defaults: the last setting wins.
    assert out.endswith("," + DECAY) == ours
    assert (user or DECAY) in out if ours or user else DECAY not in out
