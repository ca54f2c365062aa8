"""The results dataset: its schema (`schema`), how a trial's rows are written (`write`), and how
results are read back (`read`).

One row per evaluation of one model on one eval set (README, "Results schema"). Files are
hive-partitioned by strategy, one Parquet file per trial, written whole (temp + rename, or one
PUT): results/strategy=<s>/<trial>.parquet. The `strategy` column lives in the path only (a
copy inside the files would clash with the partition key in pandas and pyarrow), so read the
folder with hive partitioning. A reader (or a resumed sweep) never sees half a file, and a
trial re-run under the same id replaces its file instead of adding rows.

Every file carries every registered strategy's hyperparameters as `hp.<name>` columns (null
where a strategy has no such field), so all files of a sweep share one schema and any reader
can scan the folder without unifying schemas. Which of them change along a trial (LP's C,
WiSE's alpha) is in the files' metadata. Local folders are scanned with polars (many small
files: about twice as fast as pyarrow.dataset), object stores with pyarrow.dataset.

No torch and no Ray here: the analysis reads through this module.
"""

from lpft.dataset.read import Loaded, Skipped, load_results, read_results, read_trial_rows, sweep_folders
from lpft.dataset.schema import (
    BEFORE_STEP_KEYS,
    BUDGET_KEY,
    CONTEXT,
    INTERRUPTED_KEY,
    PATH_HPARAMS_KEY,
    REQUIRED,
    SCHEMA_VERSION,
    STEP_HPARAMS_KEY,
    VERSION_KEY,
    HparamColumns,
    rows_table,
    schema_problem,
    step_hparams,
)
from lpft.dataset.write import trial_path, write_table, write_trial

__all__ = ["BEFORE_STEP_KEYS", "BUDGET_KEY", "CONTEXT", "INTERRUPTED_KEY", "PATH_HPARAMS_KEY", "REQUIRED",
           "SCHEMA_VERSION", "STEP_HPARAMS_KEY", "VERSION_KEY", "HparamColumns", "Loaded", "Skipped", "load_results",
           "read_results", "read_trial_rows", "rows_table", "schema_problem", "step_hparams", "sweep_folders",
           "trial_path", "write_table", "write_trial"]
