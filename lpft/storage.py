"""Where a sweep's files live: a local or shared path, or an object store (`s3://bucket/prefix`).

One `Location` (a pyarrow FileSystem and a path on it) serves the results writer, the sweep's
tables, Ray Tune's experiment and `lpft analyze`, so the same spec writes to a laptop's
disk, a cluster's shared file system or S3. Another S3 endpoint (MinIO, a test server)
comes from `?endpoint_override=HOST:PORT&scheme=http` in the URI, or from
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, which lpft reads itself (pyarrow does not) and
writes into the location's URI, so trials on other nodes resolve the same place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.fs as pafs

from lpft.atomic import atomic_file
from lpft.errors import InputError


@dataclass(frozen=True)
class Location:
    fs: pafs.FileSystem
    path: str  # on `fs`: an absolute local path, or bucket/prefix
    scheme: str = ""  # "" for local paths
    query: str = ""  # the URI's options (endpoint_override, scheme, region)

    @property
    def is_local(self) -> bool:
        return not self.scheme

    @property
    def uri(self) -> str:
        """A string another process turns back into this location with `locate`."""
        if self.is_local:
            return self.path
        return f"{self.scheme}://{self.path}" + (f"?{self.query}" if self.query else "")

    def __truediv__(self, part: str) -> Location:
        return Location(self.fs, f"{self.path.rstrip('/')}/{part}", self.scheme, self.query)

    @property
    def parent(self) -> Location:
        return Location(self.fs, self.path.rstrip("/").rsplit("/", 1)[0], self.scheme, self.query)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return self.uri.split("?", 1)[0]

    def exists(self) -> bool:
        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.fs.get_file_info(self.path).type == pafs.FileType.Directory

    def files(self, suffix: str = "") -> list[str]:
        """Every file below this location whose name ends with `suffix` (none if it is missing)."""
        if not self.is_dir():
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, recursive=True))
        return [i.path for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(suffix)
                and not i.base_name.startswith(".")]

    @contextmanager
    def open_write(self) -> Iterator[BinaryIO]:
        """Replace this file whole: temp + rename locally; one PUT on an object store, which
        makes the object visible only when complete. Either way no reader sees half a file."""
        if self.is_local:
            with atomic_file(Path(self.path)) as f:
                yield f
            return
        self.fs.create_dir(self.parent.path, recursive=True)
        with self.fs.open_output_stream(self.path) as f:
            yield f

    def discard(self) -> None:
        """Remove this file or folder if it is there. Best effort: for what is only kept to save
        work (checkpoints, old locks), where a leftover costs space, not correctness."""
        try:
            kind = self.fs.get_file_info(self.path).type
            if kind == pafs.FileType.Directory:
                self.fs.delete_dir(self.path)
            elif kind == pafs.FileType.File:
                self.fs.delete_file(self.path)
        except OSError:
            pass

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as f:
            return f.read()


SECRET_OPTIONS = ("access_key", "secret_key", "session_token", "password", "token")


def redact(uri: str) -> str:
    """`uri` without credentials (s3://KEY:SECRET@bucket/... or ?secret_key=...), for anything
    printed or stored: messages, job metadata, a sweep's spec.yaml."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(q for q in parts.query.split("&") if q and q.split("=", 1)[0].lower() not in SECRET_OPTIONS)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# A URI inside a sentence: up to the first space or quote (a library's message quoting an address).
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_text(text: str) -> str:
    """`text` with every URI in it redacted (`redact`): a Ray cluster's address as the user gave
    it (`--address http://user:pass@host`), and as the Ray SDK repeats it in its own errors."""
    return _URI_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def outside(loc: Location, root: Location) -> str | None:
    """Where `loc` really is when a symbolic link takes it out of `root` (local paths only: an
    object store has no links), else None. A folder lpft writes and deletes in is refused
    when it leads elsewhere: a tampered `checkpoints/<trial>` linked to another folder would
    have a resumed trial prune that folder's files."""
    if not (loc.is_local and root.is_local):
        return None
    real, base = os.path.realpath(loc.path), os.path.realpath(root.path)
    return None if os.path.commonpath([real, base]) == base else real


def join_uri(uri: str, *parts: str) -> str:
    """`uri`/part/... keeping a URI's ?options at the end (no filesystem is touched)."""
    base, sep, query = uri.partition("?")
    return "/".join([base.rstrip("/"), *parts]) + sep + query


def _endpoint_query(uri: str) -> str:
    """The URI's query, plus an endpoint from the environment when it names none."""
    parts = urlsplit(uri)
    query = parts.query
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if parts.scheme == "s3" and endpoint and "endpoint_override" not in query:
        ep = urlsplit(endpoint)
        extra = urlencode({"endpoint_override": ep.netloc or ep.path, "scheme": ep.scheme or "https"})
        query = f"{query}&{extra}" if query else extra
    return query


def locate(uri: str | Path | Location) -> Location:
    """A local path (`~` expands) or a filesystem URI (s3://, gs://, file://) as a Location."""
    if isinstance(uri, Location):
        return uri
    text = str(uri)
    if "://" not in text or text.startswith("file://"):
        local = Path(text.removeprefix("file://")).expanduser().resolve()
        return Location(pafs.LocalFileSystem(), str(local))
    scheme = text.split("://", 1)[0]
    query = _endpoint_query(text)
    base = text.split("?", 1)[0]
    try:
        fs, path = pafs.FileSystem.from_uri(base + (f"?{query}" if query else ""))
    except (pa.ArrowInvalid, OSError, ValueError) as e:
        raise InputError(f"storage {base}: {str(e).splitlines()[0]}") from None
    return Location(fs, path.rstrip("/"), scheme, query)
