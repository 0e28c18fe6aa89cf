"""Download one file from a list of mirrors: retry with backoff, verify SHA-256, write atomically.

Only the standard library's urllib (no `requests`). A file is streamed into a temporary file beside `dest`,
hashed on the way, fsynced and renamed over `dest` only when its SHA-256 matches, so `dest` is never half
written and never holds bytes that failed the check.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from digitreader.errors import DataError
from digitreader.files import atomic_file, sha256_file

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0  # seconds without data before a connection is given up
_CHUNK = 1 << 16
_USER_AGENT = "digitreader (+https://github.com/digitreader)"


class _Transient(Exception):
    """A failure worth retrying on the same mirror (network error, 5xx, 429, short read)."""


class _Permanent(Exception):
    """A failure that another try on the same mirror will not fix (4xx, checksum mismatch)."""


def download(
    urls: Sequence[str],
    dest: str | os.PathLike[str],
    sha256: str,
    *,
    retries: int = 3,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = 1.0,
    progress: bool | None = None,
) -> Path:
    """Fetch `dest` from the first of `urls` that serves a file with SHA-256 `sha256`; return `dest`.

    Each mirror is tried up to `retries` times on transient errors (waiting `backoff` * 2**attempt seconds
    between tries); a 4xx answer or a checksum mismatch moves on to the next mirror at once. If `dest` already
    holds the right bytes nothing is fetched. `progress` shows a tqdm bar on stderr (default: when stderr is a
    terminal). Raises `DataError` listing every mirror tried and why it failed.
    """
    dest = Path(dest)
    sha256 = sha256.lower()
    if dest.is_file() and sha256_file(dest) == sha256:
        log.debug("%s already present and verified", dest)
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{dest.parent}: cannot create download folder ({exc.strerror or exc})") from None
    if progress is None:
        progress = sys.stderr.isatty()

    failures: list[str] = []
    for url in urls:
        for attempt in range(max(1, retries)):
            try:
                _fetch(url, dest, sha256, timeout=timeout, progress=progress)
                log.info("downloaded %s from %s", dest.name, url)
                return dest
            except _Permanent as exc:
                log.info("%s: %s", url, exc)
                failures.append(f"{url} ({exc})")
                break
            except _Transient as exc:
                log.info("%s: %s (try %d of %d)", url, exc, attempt + 1, retries)
                if attempt + 1 >= retries:
                    failures.append(f"{url} ({exc}, {retries} tries)")
                else:
                    time.sleep(backoff * 2**attempt)
    tried = "; ".join(failures) if failures else "no mirrors given"
    raise DataError(f"{dest}: download failed: {tried}")


def _fetch(url: str, dest: Path, sha256: str, *, timeout: float, progress: bool) -> None:
    """One try: stream `url` into a temp file beside `dest`, check the hash, rename it into place (a failed
    or corrupt download never stays on disk: `files.atomic_file`)."""
    try:
        with atomic_file(dest, suffix=".part") as out:
            digest = hashlib.sha256()
            try:
                request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    total = response.headers.get("Content-Length")
                    expected = int(total) if total and total.isdigit() else None
                    received = 0
                    with tqdm(
                        total=expected,
                        unit="B",
                        unit_scale=True,
                        desc=dest.name,
                        file=sys.stderr,
                        disable=not progress,
                        leave=False,
                    ) as bar:
                        while block := response.read(_CHUNK):
                            out.write(block)
                            digest.update(block)
                            received += len(block)
                            bar.update(len(block))
            except urllib.error.HTTPError as exc:
                if exc.code == 429 or exc.code >= 500:
                    raise _Transient(f"HTTP {exc.code}") from None
                raise _Permanent(f"HTTP {exc.code}") from None
            except urllib.error.URLError as exc:
                raise _Transient(str(exc.reason)) from None
            except (OSError, http.client.HTTPException) as exc:
                raise _Transient(f"{type(exc).__name__}: {exc}") from None
            if expected is not None and received != expected:
                raise _Transient(f"short read: {received} of {expected} bytes")
            got = digest.hexdigest()
            if got != sha256:
                raise _Permanent(f"checksum mismatch: got sha256 {got[:12]}..., want {sha256[:12]}...")
    except OSError as exc:  # the temp file could not be made, synced or renamed
        raise DataError(f"{dest.parent}: cannot write the download ({exc.strerror or exc})") from None
