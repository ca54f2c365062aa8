"""One sweep per name and storage at a time: a lock that holds on a shared file system and on S3.

Two sweeps of the same name writing one folder would mix their trials under one trials
table. The lock is a sequence of small files `<sweep>/locks/<n>.json`; taking it is creating
the next one *exclusively* (a hard link on a file system, which fails if the name exists; a
conditional PUT, `If-None-Match: *`, on S3), so of two sweeps racing for it exactly one wins.
The holder rewrites its file every few seconds (a heartbeat) and marks it released when it
ends. A lock whose holder is gone (same host: its process no longer exists; another host: no
heartbeat for `STALE_S`) is stale, and the next sweep, e.g. the `--resume` after a kill,
takes the next number.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lpft.errors import InputError, json_object, quote
from lpft.processes import is_alive, this_process
from lpft.storage import Location

FOLDER = "locks"
HEARTBEAT_S = 5.0
STALE_S = 60.0  # no heartbeat for this long from another host: its sweep is gone


def _holder() -> dict[str, Any]:
    return {**this_process(), "since": time.time(), "heartbeat": time.time(), "released": False}


def is_stale(holder: dict[str, Any], now: float | None = None) -> bool:
    if holder.get("released"):
        return True
    if holder.get("host") == socket.gethostname():  # the same machine: ask it whether the process lives
        return not is_alive(holder)
    return (now or time.time()) - float(holder.get("heartbeat", 0.0)) > STALE_S


def holder_problem(holder: dict[str, Any]) -> str | None:
    """What is wrong with a lock file's object, or None when it names a holder as lpft writes one."""
    kinds = {"host": (str,), "pid": (int,), "since": (int, float), "heartbeat": (int, float)}
    for key, kind in kinds.items():
        value = holder.get(key)
        if isinstance(value, bool) or not isinstance(value, kind) or \
                (isinstance(value, float) and not math.isfinite(value)):
            return f"{key} is {quote(value, 40)}"
    start = holder.get("process_start")
    if start is not None and (isinstance(start, bool) or not isinstance(start, (int, float))
                              or not math.isfinite(start)):
        return f"process_start is {quote(start, 40)}"
    if not isinstance(holder.get("released", False), bool):
        return f"released is {quote(holder.get('released'), 40)}"
    return None


def clear_command(where: Location) -> str:
    """The command that removes the lock file `where`, for the message that asks for it."""
    if where.is_local:
        return shlex.join(["rm", where.path])
    if where.scheme == "s3":
        return shlex.join(["aws", "s3", "rm", str(where)])
    return f"delete {where}"


class SweepLock:
    """`with SweepLock(root, name):` runs the block holding the sweep's lock, or raises InputError."""

    def __init__(self, root: Location, name: str) -> None:
        self.folder = root / FOLDER
        self.name = name
        self.mine: Location | None = None
        self.holder = _holder()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> SweepLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _latest(self) -> tuple[int, dict[str, Any] | None]:
        numbers = sorted(int(Path(p).stem) for p in self.folder.files(".json") if Path(p).stem.isdigit())
        if not numbers:
            return -1, None
        where = self.folder / f"{numbers[-1]:08d}.json"
        try:
            body = where.read_bytes()
        except OSError:  # removed this instant by its holder's successor: the next one is newer
            return numbers[-1], {"host": "?", "pid": "?", "since": time.time(), "heartbeat": time.time()}
        # Written whole (a hard link, a rename, one PUT), a lock is never half a file: one that
        # does not read as a holder was damaged, and "held" would be said of it forever.
        holder = json_object(body)
        problem = holder if isinstance(holder, str) else holder_problem(holder)
        if problem:
            raise InputError(f"sweep {self.name!r}: its lock {where} is damaged ({problem}); if no sweep of that "
                             f"name is running, clear it with: {clear_command(where)}")
        assert isinstance(holder, dict)  # a str is what is wrong with it, raised just above
        return numbers[-1], holder

    def _refuse(self, holder: dict[str, Any]) -> InputError:
        since = datetime.fromtimestamp(float(holder.get("since", 0)), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        age = time.time() - float(holder.get("heartbeat", 0))
        return InputError(f"sweep {self.name!r} at {self.folder.parent} is already running (pid {holder.get('pid')} "
                          f"on {holder.get('host')}, since {since}, last heartbeat {age:.0f} s ago): wait for it to "
                          f"end or stop it; its lock is {self.folder}")

    def check_free(self) -> None:
        """Refuses, without taking the lock, when a live sweep holds it: said before Ray starts."""
        _, holder = self._latest()
        if holder is not None and not is_stale(holder):
            raise self._refuse(holder)

    def acquire(self) -> None:
        latest, holder = self._latest()
        if holder is not None and not is_stale(holder):
            raise self._refuse(holder)
        mine = self.folder / f"{latest + 1:08d}.json"
        if not _create_exclusive(mine, json.dumps(self.holder).encode()):
            raise self._refuse(self._latest()[1] or {})  # another sweep took that number first
        self.mine = mine
        if latest >= 3:  # the three before this one stay as history; older ones go, one per acquire
            (self.folder / f"{latest - 3:08d}.json").discard()
        self._beat = threading.Thread(target=self._heartbeat, name="lpft-sweep-lock", daemon=True)
        self._beat.start()

    def _write(self) -> None:
        if self.mine is None:  # released meanwhile
            return
        self.holder["heartbeat"] = time.time()
        with self.mine.open_write() as f:
            f.write(json.dumps(self.holder).encode())

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._write()
            except OSError:  # storage briefly unreachable: the next beat tries again
                pass

    def release(self) -> None:
        if self.mine is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        self.holder["released"] = True
        self._write()
        self.mine = None


def _create_exclusive(where: Location, body: bytes) -> bool:
    """Create `where` with `body` unless it exists; False if it did. Atomic against other creators."""
    if where.is_local:
        return _create_local(Path(where.path), body)
    if where.scheme == "s3":
        return _create_s3(where, body)
    # No conditional create on this store through pyarrow: check, then write (a narrow race).
    if where.exists():
        return False
    with where.open_write() as f:
        f.write(body)
    return True


def _create_local(path: Path, body: bytes) -> bool:
    from lpft.atomic import temp_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.link(tmp, path)  # complete before it is visible, and fails if the name exists (NFS too)
        return True
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


def _create_s3(where: Location, body: bytes) -> bool:
    bucket, _, key = where.path.partition("/")
    client = _s3_client(where)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
        return True
    except client.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise OSError(f"{where}: {e}") from None


def _s3_client(where: Location) -> Any:
    """A boto3 client for the same endpoint as the location's pyarrow filesystem."""
    from urllib.parse import parse_qs

    import boto3

    query = {k: v[-1] for k, v in parse_qs(where.query).items()}
    endpoint = query.get("endpoint_override")
    kwargs: dict[str, Any] = {}
    if endpoint:
        kwargs["endpoint_url"] = f"{query.get('scheme', 'https')}://{endpoint}"
    if query.get("region"):
        kwargs["region_name"] = query["region"]
    if query.get("access_key") and query.get("secret_key"):
        kwargs.update(aws_access_key_id=query["access_key"], aws_secret_access_key=query["secret_key"])
    return boto3.client("s3", **kwargs)
