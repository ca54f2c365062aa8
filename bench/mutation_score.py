"""Mutation score of the code behind lpft's published numbers (`make mutation`, issue 31).

mutmut 3 (configured in pyproject.toml's [tool.mutmut]) copies lpft/ into mutants/ and makes
mutants of lpft/best.py, lpft/row_checks.py (the checks a results file's rows pass before
they count) and lpft/analysis/'s frontier, intervals, robustness, selection and tables (not
plots.py or html.py: a picture or markup, not a number): one small deliberate bug each (an
operator, a constant, a string, a dropped argument), each run against the fast, Ray-free
tests that cover its function. A mutant counts as killed when a test fails or times out. Prints one line per
module and then the overall line

    killed K of N mutants (score S)

and writes every mutant not killed, with its diff, to mutation-survivors.txt.

mutmut keeps its verdicts in mutants/ and on a later run tests only the mutants of functions
whose source changed. It cannot tell that a test got stronger: after adding tests, --retest
runs the mutants not killed again, with mutmut's map of which tests cover which function made
anew (a kept map runs a mutant only against the tests that covered its function before, so a
new test that would kill it never runs); --fresh starts over.

    python bench/mutation_score.py                        # run what has no verdict yet, then report
    python bench/mutation_score.py --only 'lpft.best.*'   # only these mutants (globs)
    python bench/mutation_score.py --retest               # also rerun those not killed
    python bench/mutation_score.py --fresh                # delete mutants/ first
    python bench/mutation_score.py --report               # only read mutants/
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
SURVIVORS = ROOT / "mutation-survivors.txt"
KILLED = ("killed", "timeout")  # a test failed, or the tests ran past their time limit
TARGET = 0.90


def status_of(code: int | None) -> str:
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of a worker's exit code

    return status_by_exit_code[code]


def metas() -> dict[str, dict]:
    """{module path: its .meta JSON}, for every mutated module."""
    return {str(p.relative_to(MUTANTS))[: -len(".meta")]: json.loads(p.read_text())
            for p in sorted(MUTANTS.rglob("*.py.meta"))}


def retest(only: list[str]) -> int:
    """Forget the verdicts of mutants not killed (within `only`), so the next run tests them again."""
    n = 0
    for module, meta in metas().items():
        codes = meta["exit_code_by_key"]
        for name, code in codes.items():
            if code is not None and status_of(code) not in KILLED and (
                    not only or any(fnmatch.fnmatch(name, g) for g in only)):
                codes[name] = None
                n += 1
        (MUTANTS / f"{module}.meta").write_text(json.dumps(meta, indent=4))
    # mutmut maps tests to the functions they call once and keeps the map: made again, the tests
    # added since (the reason to retest) count for the functions they cover.
    (MUTANTS / "mutmut-stats.json").unlink(missing_ok=True)
    return n


def unjudged(only: list[str]) -> list[str]:
    """The names matching `only` that have no verdict yet. mutmut tests every mutant it is given by
    name again, so a rerun of a module names only these; before the first run, the globs."""
    if not MUTANTS.is_dir():
        return only
    return [name for meta in metas().values() for name, code in meta["exit_code_by_key"].items()
            if code is None and any(fnmatch.fnmatch(name, g) for g in only)]


def run_mutmut(only: list[str], children: int) -> int:
    names = unjudged(only) if only else []
    if only and not names:
        print("every mutant matching --only has a verdict (--retest: those not killed again)")
        return 0
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *names]
    shown = cmd if len(names) <= 3 else [*cmd[:6], f"... ({len(names)} mutants)"]
    print("$", " ".join(shown), flush=True)
    if sys.stdout.isatty():
        return subprocess.run(cmd, cwd=ROOT).returncode
    # Not a terminal: mutmut's spinner would fill a log with carriage returns. Keep its output in
    # a file and show the lines that are not the spinner.
    MUTANTS.mkdir(exist_ok=True)
    log = MUTANTS / "mutmut-run.log"
    with log.open("w") as f:
        code = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    for line in log.read_text(errors="replace").replace("\r", "\n").splitlines():
        # not the spinner, nor mutmut's verdict per named mutant (mutation-survivors.txt has those)
        if line.strip() and not line.lstrip().startswith(tuple("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏🎉🫥⏰🤔🙁🔇🧙?")):
            print(line)
    return code


def score_line(killed: int, n: int) -> str:
    return f"killed {killed} of {n} mutants (score {killed / n:.2f})" if n else "killed 0 of 0 mutants (score -)"


def report() -> tuple[int, int]:
    """Print the lines; write mutation-survivors.txt. Returns (killed, counted)."""
    by_module = {m: {name: status_of(code) for name, code in meta["exit_code_by_key"].items()}
                 for m, meta in metas().items()}
    width = max(map(len, by_module), default=0)
    totals: Counter[str] = Counter()
    not_killed: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for module, statuses in by_module.items():
        counts = Counter(statuses.values())
        totals.update(counts)
        unrun = counts["not checked"] + counts["check was interrupted by user"]
        killed = sum(counts[s] for s in KILLED)
        n = len(statuses) - unrun
        if n == 0:
            print(f"{module:<{width}}  not run ({unrun} mutants)")
        else:
            print(f"{module:<{width}}  {score_line(killed, n)}" + (f"; {unrun} not run" if unrun else ""))
        not_killed[module] = sorted((s, name) for name, s in statuses.items()
                                    if s not in KILLED and s not in ("not checked", "check was interrupted by user"))
    unrun = totals["not checked"] + totals["check was interrupted by user"]
    killed = sum(totals[s] for s in KILLED)
    n = sum(totals.values()) - unrun
    unrun_states = ("not checked", "check was interrupted by user")
    parts = ", ".join(f"{totals[s]} {s}" for s in sorted(totals) if s not in KILLED + unrun_states and totals[s])
    print(f"(killed counts {totals['killed']} failed tests and {totals['timeout']} timeouts; "
          f"not killed: {parts or 'none'}" + (f"; {unrun} not run" if unrun else "") + f"; target {TARGET:.2f})")
    write_survivors(not_killed)
    print(score_line(killed, n))
    return killed, n


def write_survivors(not_killed: dict[str, list[tuple[str, str]]]) -> None:
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant
    except ImportError:  # another mutmut: names only
        get_diff_for_mutant = None
    cwd = os.getcwd()
    os.chdir(ROOT)  # mutmut reads mutants/ and pyproject.toml from the working directory
    try:
        out = [f"# Mutants the tests let through ({sum(map(len, not_killed.values()))}), by module; "
               "`mutmut show NAME` shows one. Written by bench/mutation_score.py.\n"]
        for module, found in not_killed.items():
            if not found:
                continue
            out.append(f"\n## {module} ({len(found)})\n")
            for status, name in found:
                out.append(f"{status}: {name}\n")
                if get_diff_for_mutant is not None:
                    try:
                        diff = get_diff_for_mutant(name, path=module)
                    except Exception as e:  # noqa: BLE001 - a diff is a convenience, the name is the record
                        diff = f"(no diff: {e})"
                    out.extend(f"    {ln}\n" for ln in diff.splitlines()
                               if ln[:1] in "+-" and not ln.startswith(("+++", "---")))
        SURVIVORS.write_text("".join(out))
    finally:
        os.chdir(cwd)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=[], metavar="GLOB",
                   help="mutant names to run, e.g. 'lpft.best.*' 'lpft.analysis.tables.*'")
    p.add_argument("--children", type=int, default=1, help="mutants tested at once (default 1)")
    p.add_argument("--fresh", action="store_true", help="delete mutants/ first: every mutant is tested again")
    p.add_argument("--retest", action="store_true", help="test again the mutants not killed (after adding tests)")
    p.add_argument("--report", action="store_true", help="run nothing; report what mutants/ holds")
    args = p.parse_args(argv)
    if not args.report:
        if args.fresh:
            shutil.rmtree(MUTANTS, ignore_errors=True)
        elif args.retest and MUTANTS.is_dir():
            print(f"{retest(args.only)} mutants not killed will be tested again")
        start = time.monotonic()
        code = run_mutmut(args.only, args.children)
        print(f"mutmut ran for {(time.monotonic() - start) / 60:.1f} min")
        if code != 0:
            print(f"mutmut exited with {code}", file=sys.stderr)
            return code
    if not MUTANTS.is_dir():
        print("no mutants/ yet: run without --report", file=sys.stderr)
        return 1
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
