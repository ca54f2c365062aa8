"""What a results folder's rows must be before anything computes on them, checked per file.

Results travel (a collaborator's shared folder, a paper's artefact), so a file may be damaged
or written by hand to break whoever opens it. Every row's file is known (the `FILE` column, an
index into the folder's file list), and each problem is reported against the file holding it,
whatever else the row lacks (a null trial id names no file by itself):

- the required columns are never null (a null step read as an evaluation recorded twice);
- every name that the analysis turns into a folder or file (sweep, benchmark, eval set) and the
  strategy and trial id that name the results' own folders and files is one safe path component
  (`lpft.names.NAME`): a sweep named `/abs` or `../x` put `lpft analyze --out rep`'s report
  outside `rep`;
- each eval set has its role (`id_val` and `id_test` are their own, every other set is `ood`);
- accuracies lie in [0, 1];
- (for the analysis) each file holds every role it needs: ID val, ID test and an OOD set;
- no evaluation is recorded twice with different accuracies.

Each test runs once over the whole frame and looks for the files only when something failed,
so a clean million rows costs a few column scans.
"""

from __future__ import annotations

import polars as pl

from lpft.errors import quote
from lpft.names import NAME, RULE, is_name

FILE = "_file"  # each row's file: its index in the folder's sorted file list
NOT_NULL = ("strategy", "trial_id", "seed", "step", "eval_set", "role", "accuracy")
NAMES = ("sweep", "benchmark", "strategy", "eval_set", "trial_id")
ID_ROLES = ("id_val", "id_test")  # eval sets that are their own role; every other set is "ood"
ROLES = (*ID_ROLES, "ood")


def row_problems(frame: pl.DataFrame, roles: tuple[str, ...] = (), duplicates: bool = True) -> dict[int, str]:
    """File index -> the first problem its rows have (see the module's list); `roles`: those every
    file must hold."""
    bad: dict[int, str] = {}
    for check in (_nulls, _names, _roles, _accuracy):
        for file, reason in check(frame):
            bad.setdefault(file, reason)
    if roles:
        for file, reason in _missing_roles(frame, roles):
            bad.setdefault(file, reason)
    if duplicates:  # among the files left: a damaged file's nulls are not "twice"
        rest = frame.filter(~pl.col(FILE).is_in(list(bad))) if bad else frame
        for file, reason in _repeated(rest):
            bad.setdefault(file, reason)
    return bad


def _nulls(frame: pl.DataFrame) -> list[tuple[int, str]]:
    columns = [c for c in NOT_NULL if c in frame.columns]
    counts = frame.select(pl.col(columns).null_count()).row(0)
    out = []
    for column in (c for c, n in zip(columns, counts) if n):
        per_file = frame.filter(pl.col(column).is_null()).group_by(FILE).len().sort(FILE)
        out += [(f, f"column {column!r} is null in {n} rows") for f, n in per_file.iter_rows()]
    return out


def _names(frame: pl.DataFrame) -> list[tuple[int, str]]:
    out = []
    for column in (c for c in NAMES if c in frame.columns):
        text = pl.col(column).cast(pl.String)
        # Polars' regex over the distinct values ($ is the very end in Rust's), Python's on the few failing.
        failing = frame.select(text.unique()).filter(text.is_not_null() & ~text.str.contains(f"^{NAME}$"))
        for value in (v for v in failing.get_column(column).to_list() if not is_name(v)):
            reason = (f"{column} {quote(value)} is not a plain name ({RULE}); results' names become folder "
                      "and file names")
            files = frame.filter(text == value).get_column(FILE).unique().sort()
            out += [(f, reason) for f in files.to_list()]
    return out


def _roles(frame: pl.DataFrame) -> list[tuple[int, str]]:
    expected = pl.when(pl.col("eval_set").is_in(list(ID_ROLES))).then(pl.col("eval_set")).otherwise(pl.lit("ood"))
    wrong = pl.col("role").ne_missing(expected) & pl.col("eval_set").is_not_null()
    if not frame.select(wrong.any()).item():
        return []
    first = frame.filter(wrong).group_by(FILE, maintain_order=True).first()
    return [(f, f"eval set {quote(e)} has role {quote(r)} (id_val and id_test are their own roles, every other "
                f"set is ood)") for f, e, r in first.select(FILE, "eval_set", "role").iter_rows()]


def _accuracy(frame: pl.DataFrame) -> list[tuple[int, str]]:
    wrong = ~pl.col("accuracy").is_between(0.0, 1.0) & pl.col("accuracy").is_not_null()
    # A test first: filtering a million rows in a chunk per file costs ten times as much.
    if not frame.select(wrong.any()).item():
        return []
    first = frame.filter(wrong).group_by(FILE, maintain_order=True).first()
    return [(f, f"accuracy {a!r} is not in [0, 1]") for f, a in first.select(FILE, "accuracy").iter_rows()]


def _missing_roles(frame: pl.DataFrame, roles: tuple[str, ...]) -> list[tuple[int, str]]:
    held = frame.group_by(FILE).agg(*(pl.col("role").eq(r).any().alias(r) for r in roles))
    out = []
    for row in held.sort(FILE).iter_rows(named=True):
        missing = [r for r in roles if not row[r]]
        if missing:
            out.append((row[FILE], f"no {' and no '.join(missing)} rows (the analysis needs each trial's "
                                   f"{', '.join(roles)} accuracies)"))
    return out


def _repeated(frame: pl.DataFrame) -> list[tuple[int, str]]:
    keys = [k for k in ("strategy", "trial_id", "step", "eval_set", "adapt") if k in frame.columns]
    # Most results have no evaluation written twice: one cheap test, then the full search.
    if not frame.select(pl.struct(keys).is_duplicated().any()).item():
        return []
    spread = frame.group_by(keys).agg(pl.col("accuracy").min().alias("lo"), pl.col("accuracy").max().alias("hi"),
                                      pl.col(FILE).unique().alias("files"))
    clash = spread.filter(pl.col("lo") != pl.col("hi")).sort(keys).explode("files")
    return [(f, f"step {step} on {e} is recorded twice with different accuracies")
            for f, step, e in clash.select("files", "step", "eval_set").iter_rows()]
