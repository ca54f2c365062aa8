"""lpft.allocator: polars' jemalloc keeps freed pages 10 s when lpft is imported first, and a
user's own setting, or polars already imported, is left alone."""

import os
import subprocess
import sys

import pytest

SHOW = "import os; {first}; import polars; print(os.environ.get('_RJEM_MALLOC_CONF'))"


@pytest.mark.parametrize("first, user, ours", [("import lpft", None, True), ("import lpft", "narenas:2", False),
                                               ("import polars; import lpft", None, False)])
def test_the_decay_is_set_only_before_polars_and_never_over_a_users(first, user, ours):
    from lpft.allocator import DECAY

    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if user:
        env["_RJEM_MALLOC_CONF"] = user
    out = subprocess.run([sys.executable, "-c", SHOW.format(first=first)], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    # Polars appends the variable to its own defaults: the last setting wins.
    assert out.endswith("," + DECAY) == ours
    assert (user or DECAY) in out if ours or user else DECAY not in out
