import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may reach a hub at run time


@pytest.fixture(scope="session", autouse=True)
def feature_cache(tmp_path_factory: pytest.TempPathFactory):
    """A private feature/head cache per test session (subprocesses inherit it)."""
    root = tmp_path_factory.mktemp("lpft-cache")
    old = os.environ.get("LPFT_CACHE")
    os.environ["LPFT_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("LPFT_CACHE", None)
    else:
        os.environ["LPFT_CACHE"] = old


# Small digits subsets: every split and OOD set present, seconds per run.
SMALL_DIGITS = {"n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 60, "size": 32}


@pytest.fixture(scope="session")
def small_digits():
    from lpft.data import load_benchmark

    return load_benchmark("digits", **SMALL_DIGITS)


def code_running_pickle(value_key: object, marker) -> bytes:  # noqa: ANN001
    """A pickled {value_key: payload} whose unpickling would run `touch marker` (os.system):
    loaders must refuse it before the marker appears."""
    import os
    import pickle

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({value_key: Payload()}, protocol=2)
