"""Verified, resumable downloads of registry archives (see config/registry.yaml).

`fetch` downloads one file from a list of mirrors into `{dest}.part`, resuming an interrupted download with
an HTTP Range request (and starting over when the server ignores the range), retrying connection errors and
5xx answers with exponential backoff, and moving on to the next mirror on a 4xx answer. The size and SHA-256
are checked before `{dest}.part` is renamed to `dest`, so `dest` appears only once it is verified; a file that
fails is moved to `{dest}.bad` and the error names the expected and actual values. Where no SHA-256 is
published it is computed and logged with the exact YAML lines that pin it.

`verify_archive` checks an archive where it lies, however it got there (downloaded, or placed by hand), before
it is extracted. A verified file's SHA-256 is remembered in `{file}.verified`, keyed by its size, mtime and
inode, so a multi-gigabyte archive is hashed once, not on every check.

Credentials come from the environment variable a registry entry names and are sent as a header, a query
parameter or HTTP Basic auth, to the mirror's own host only (never to a redirect target on another host).
They are kept out of every log line, progress bar, exception and file this module writes.
"""

import base64
import hashlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import requests
from tqdm import tqdm

from defectlab.data.registry import Archive, Credentials, Entry, Registry, load_registry
from defectlab.runtime import atomic_output

log = logging.getLogger(__name__)

REGISTRY_FILE = "config/registry.yaml"
STAMP_SUFFIX = ".verified"
MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_UNSATISFIED_RANGE = re.compile(r"^bytes \*/(\d+)$")
# Loggers that may print request URLs (urllib3 logs "GET /path?query" at DEBUG level).
_HTTP_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
)


class DownloadError(RuntimeError):
    """No mirror delivered the file, or the file was refused."""


class MissingCredentialError(DownloadError):
    """The environment variable that holds a needed credential is not set."""

    def __init__(self, variables: Sequence[str], what: str, how: str | None = None):
        self.variables = tuple(variables)
        names = " and ".join(self.variables)
        plural = "s" if len(self.variables) > 1 else ""
        verb = "are" if len(self.variables) > 1 else "is"
        how = f"\n{how}" if how else ""
        super().__init__(
            f"{what} needs credentials: set the environment variable{plural} {names} ({verb} not set).{how}"
        )


class ChecksumMismatchError(DownloadError):
    """The file is not the published one; it is at `bad_path` (a download's is moved aside to `.bad`)."""

    def __init__(self, message: str, *, expected: str | None, actual: str, bad_path: Path):
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.bad_path = bad_path


def fetch(
    urls: str | Sequence[str],
    dest: str | Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    credentials: Credentials | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60,
    chunk: int = 1 << 20,
    progress: bool = True,
    sha256_prefix: str | None = None,
) -> Path:
    """Download `dest` from the first mirror in `urls` that delivers it, verified; return `dest`.

    sha256 / size: the published checksum and byte count (None where unknown); sha256_prefix: the leading hex
    digits where only those are published (torchvision weights). credentials: how to authenticate (read from
    the environment now; MissingCredentialError names the variable when it is unset). retries: further
    attempts per mirror after a connection error, a dropped connection or a 5xx/429 answer, waiting backoff,
    2 * backoff, 4 * backoff, ... seconds; each resumes from what `{dest}.part` holds. A 4xx answer moves on to
    the next mirror at once. An existing `dest` is verified and returned without downloading.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    sha256 = _normalise_digest(sha256, "sha256", exact=True)
    sha256_prefix = _normalise_digest(sha256_prefix, "sha256_prefix", exact=False)
    if retries < 0 or backoff < 0 or chunk <= 0:
        raise ValueError(f"retries and backoff must be >= 0 and chunk > 0, got {retries}, {backoff}, {chunk}")
    if dest.exists():
        log.info("%s already present; verifying it", dest)
        _verify(dest, dest, sha256, sha256_prefix, size)
        return dest
    if not urls:
        raise DownloadError(f"{dest.name}: no download URL is known. Fetch it by hand and place it at {dest}.")
    auth = _Auth.from_environment(credentials, dest.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures: list[str] = []
    with _redacted_http_logs(auth), requests.Session() as session:
        for number, url in enumerate(urls):
            if number and part.exists() and sha256 is None and sha256_prefix is None:
                part.unlink()  # without a checksum, bytes of two mirrors must not be mixed
            error = _fetch_mirror(session, url, part, auth, size, retries, backoff, timeout, chunk, progress)
            if error is None:
                actual = _verify(part, dest, sha256, sha256_prefix, size)
                os.replace(part, dest)
                _fsync_directory(dest.parent)
                _remember(dest, actual)
                log.info("%s downloaded and verified", dest)
                return dest
            failures.append(f"{auth.redact(url)}: {error}")
    listing = "\n".join(f"  - {failure}" for failure in failures)
    kept = f"\nThe partial download is kept at {part} and resumes on the next run." if part.exists() else ""
    raise DownloadError(f"could not download {dest.name} from any of {len(urls)} mirror(s):\n{listing}{kept}")


def fetch_archive(
    entry: Entry,
    archive: Archive | str | None = None,
    dest: str | Path | None = None,
    *,
    registry: Registry | None = None,
    **options,
) -> Path:
    """Fetch one archive of a registry entry to `dest` (default: the registry's destination for it).

    Manual entries (no URL) give an error with the entry's how-to note unless the file is already in place;
    options are passed on to `fetch` (retries, backoff, timeout, chunk, progress).
    """
    if not isinstance(archive, Archive):
        archive = entry.archive(archive)
    if dest is None:
        registry = registry if registry is not None else load_registry()
        dest = registry.destination(entry.name, archive.file)
    dest = Path(dest)
    if not archive.urls and not dest.exists():
        how = f"\n{entry.how_to_fetch}" if entry.how_to_fetch else ""
        raise DownloadError(
            f"{entry.name}: {archive.file} cannot be downloaded automatically.{how}\n"
            f"Place the file at {dest} and run again; it is verified and its checksum logged for pinning."
        )
    try:
        return fetch(
            archive.urls,
            dest,
            sha256=archive.sha256,
            sha256_prefix=archive.sha256_prefix,
            size=archive.size,
            credentials=entry.credentials,
            **options,
        )
    except MissingCredentialError as error:
        raise MissingCredentialError(error.variables, f"{entry.name} ({archive.file})", entry.how_to_fetch) from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(entry: Entry, path: str | Path) -> str:
    """Check an archive of `entry` where it lies, before it is used: size and SHA-256 (or its published
    prefix) where the registry gives them. A file placed by hand is checked like a download. A mismatch
    raises ChecksumMismatchError naming the file, the expected and the actual values, and leaves the file in
    place; where no SHA-256 is pinned, the computed one is logged with the lines that pin it. Returns the
    file's SHA-256."""
    path = Path(path)
    archive = entry.archive(path.name)
    actual_size = path.stat().st_size
    actual = _sha256_remembered(path)
    problems = _mismatches(actual_size, actual, archive.sha256, archive.sha256_prefix, archive.size)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        again = ", or delete it to download it again" if archive.urls else ""
        raise ChecksumMismatchError(
            f"{path} is not the archive {archive.file} of {entry.name} in {REGISTRY_FILE}:\n{listing}\n"
            f"Replace it with the published file{again}; if the publisher has changed the file, update its "
            f"entry in {REGISTRY_FILE}.",
            expected=archive.sha256 or archive.sha256_prefix,
            actual=actual,
            bad_path=path,
        )
    if archive.sha256 is None:
        _log_pin(path.name, actual, actual_size)
    return actual


def pin_lines(sha256: str, size: int) -> str:
    """The YAML lines that pin an archive's checksum and size in config/registry.yaml."""
    return f'sha256: "{sha256}"\nsize: {size}'


@dataclass(frozen=True)
class _Auth:
    """The credential of one fetch: where it goes, and the secret strings to keep out of every output."""

    method: str | None = None  # "header", "query", "basic" or None
    name: str | None = None  # header or query parameter name
    value: str = ""  # what is sent (header value, parameter value, or the Basic token)
    secrets: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, credentials: Credentials | None, what: str) -> "_Auth":
        if credentials is None:
            return cls()
        missing = [v for v in credentials.variables if not os.environ.get(v)]
        if missing:
            raise MissingCredentialError(missing, what)
        secret = os.environ[credentials.env]
        if credentials.send == "header":
            return cls("header", credentials.name, credentials.prefix + secret, (secret,))
        if credentials.send == "query":
            return cls("query", credentials.name, secret, (secret,))
        if credentials.send == "basic":
            user = os.environ[credentials.username_env]
            token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
            return cls("header", "Authorization", f"Basic {token}", (secret, token))
        raise ValueError(f"unknown credential method {credentials.send!r}")

    def apply(self, url: str, headers: dict[str, str]) -> str:
        """Add the credential to a request for `url` (the mirror itself, never a redirect target)."""
        if self.method == "header":
            headers[self.name] = self.value
        elif self.method == "query":
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != self.name]
            query.append((self.name, self.value))
            url = urlunsplit(parts._replace(query=urlencode(query)))
        return url

    def redact(self, text: str) -> str:
        """`text` with every secret (plain and URL-encoded) and any URL user:password replaced by ***."""
        for secret in self.secrets:
            for form in {secret, quote(secret, safe=""), quote(secret), quote(secret, safe="").replace("%20", "+")}:
                if form:
                    text = text.replace(form, "***")
        return re.sub(r"(https?://)[^/@\s]+@", r"\1***@", text)


class _Retry(Exception):
    """A failure worth another attempt at the same mirror (connection error, dropped connection, 5xx)."""


class _GiveUp(Exception):
    """A failure of this mirror that retrying will not cure (4xx, bad URL)."""


def _fetch_mirror(session, url, part, auth, size, retries, backoff, timeout, chunk, progress) -> str | None:
    """Download `url` into `part` with retries; None when `part` holds the whole file, else the last error."""
    error = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            delay = backoff * 2 ** (attempt - 1)
            log.warning("%s: %s; retry %d of %d in %.2g s", part.name[:-5], error, attempt, retries, delay)
            time.sleep(delay)
        try:
            _download_once(session, url, part, auth, size, timeout, chunk, progress)
            return None
        except _Retry as failure:
            error = str(failure)
        except _GiveUp as failure:
            return str(failure)
    return f"{error} (gave up after {retries + 1} attempts)"


def _download_once(session, url, part: Path, auth: _Auth, size, timeout, chunk, progress) -> None:
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset == size:
        return  # complete already (e.g. interrupted between download and rename)
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    headers = {"Accept-Encoding": "identity"}  # byte ranges of the file itself, not of a compressed stream
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with _open(session, url, headers, auth, timeout) as response:
        status = response.status_code
        if status == 416:
            match = _UNSATISFIED_RANGE.match(response.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                return  # the part file is already the whole file
            part.unlink(missing_ok=True)
            raise _Retry("the server refused to resume (HTTP 416); starting over")
        if status >= 500 or status == 429:
            raise _Retry(f"HTTP {status} {auth.redact(response.reason or '')}".strip())
        if status in (401, 403):
            who = "the credentials were refused" if auth.method else "it needs credentials or accepted terms"
            raise _GiveUp(f"HTTP {status}: {who}")
        if status not in (200, 206):
            raise _GiveUp(f"HTTP {status} {auth.redact(response.reason or '')}".strip())
        mode, total = "ab", None
        if status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                part.unlink(missing_ok=True)
                raise _Retry("the server answered a different byte range; starting over")
            total = None if match.group(3) == "*" else int(match.group(3))
        else:
            if offset:
                log.info("%s: the server ignores Range requests; starting over", part.name[:-5])
            mode, offset = "wb", 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        expected = total if total is not None else size
        received = offset
        bar = tqdm(
            total=expected,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name[:-5],
            file=sys.stderr,
            disable=not progress,
            leave=False,
        )
        with bar, open(part, mode) as stream:
            try:
                for block in response.iter_content(chunk_size=chunk):
                    stream.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                raise _Retry(f"connection lost after {received} bytes: {_describe(error, auth)}") from None
            finally:
                stream.flush()
                os.fsync(stream.fileno())
        if expected is not None and received < expected:
            raise _Retry(f"connection closed after {received} of {expected} bytes")


@contextmanager
def _open(session, url: str, headers: dict[str, str], auth: _Auth, timeout) -> Iterator[requests.Response]:
    """GET `url`, following redirects by hand so that credentials go to the mirror's own origin only."""
    origin = urlsplit(url)[:2]
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        request_headers = dict(headers)
        target = auth.apply(current, request_headers) if urlsplit(current)[:2] == origin else current
        try:
            response = session.get(target, headers=request_headers, stream=True, timeout=timeout, allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise _Retry(f"connection failed: {_describe(error, auth)}") from None
        except requests.RequestException as error:
            raise _GiveUp(f"request failed: {_describe(error, auth)}") from None
        if response.status_code in _REDIRECTS and "Location" in response.headers:
            current = urljoin(current, response.headers["Location"])
            response.close()
            continue
        try:
            yield response
        finally:
            response.close()
        return
    raise _GiveUp(f"more than {MAX_REDIRECTS} redirects")


def _describe(error: Exception, auth: _Auth) -> str:
    """A one-line description of a requests error with secrets and query strings removed."""
    text = auth.redact(f"{type(error).__name__}: {error}")
    return re.sub(r"\?[^\s'\"()]*", "?...", text)  # urllib3 messages repeat the full request path


def _verify(path: Path, dest: Path, sha256: str | None, prefix: str | None, size: int | None) -> str:
    """Check `path` (the part file, or an existing dest); on a mismatch move it to {dest}.bad and raise.
    Returns its SHA-256."""
    actual_size = path.stat().st_size
    actual = _sha256_remembered(path) if path == dest else sha256_file(path)
    problems = _mismatches(actual_size, actual, sha256, prefix, size)
    if problems:
        bad = dest.with_name(dest.name + ".bad")
        os.replace(path, bad)
        _stamp(dest).unlink(missing_ok=True)
        listing = "\n".join(f"  {p}" for p in problems)
        raise ChecksumMismatchError(
            f"{dest.name} failed verification:\n{listing}\n"
            f"The file was moved aside to {bad} for inspection and {dest} was not created. Delete it and run "
            f"again; if the publisher has changed the file, update its entry in {REGISTRY_FILE}.",
            expected=sha256 or prefix,
            actual=actual,
            bad_path=bad,
        )
    if sha256 is None:
        _log_pin(dest.name, actual, actual_size)
    return actual


def _mismatches(actual_size: int, actual: str, sha256: str | None, prefix: str | None, size: int | None) -> list[str]:
    """How a file of `actual_size` bytes and SHA-256 `actual` differs from what is published."""
    problems = []
    if size is not None and actual_size != size:
        problems.append(f"size: expected {size} bytes, got {actual_size} bytes")
    if sha256 is not None and actual != sha256:
        problems.append(f"sha256: expected {sha256}, got {actual}")
    if sha256 is None and prefix is not None and not actual.startswith(prefix):
        problems.append(f"sha256: expected a hash starting with {prefix}, got {actual}")
    return problems


def _log_pin(name: str, actual: str, actual_size: int) -> None:
    lines = pin_lines(actual, actual_size).replace("\n", "\n    ")
    log.warning(
        "No SHA-256 is pinned for %s; computed from this file: sha256 %s, size %d bytes. "
        "To pin it, set these lines on its archive (file: %s) in %s:\n    %s",
        name,
        actual,
        actual_size,
        name,
        REGISTRY_FILE,
        lines,
    )


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def _identity(path: Path) -> dict[str, int]:
    """What changes when a file is rewritten or replaced: size, mtime and inode."""
    info = path.stat()
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "inode": info.st_ino}


def _sha256_remembered(path: Path) -> str:
    """The SHA-256 of `path`, from its stamp when the file is the one the stamp describes, else computed
    (and remembered)."""
    try:
        stamp = json.loads(_stamp(path).read_text(encoding="utf-8"))
        if {k: stamp.get(k) for k in ("size", "mtime_ns", "inode")} == _identity(path):
            return str(stamp["sha256"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # no stamp, or not a readable one: hash the file
    actual = sha256_file(path)
    _remember(path, actual)
    return actual


def _remember(path: Path, sha256: str) -> None:
    """Write the stamp; where the folder is read-only the file is simply hashed again next time."""
    try:
        with atomic_output(_stamp(path)) as tmp:
            tmp.write_text(json.dumps({**_identity(path), "sha256": sha256}), encoding="utf-8")
    except OSError as error:
        log.info("%s: cannot remember its SHA-256 (%s)", path, error)


def _normalise_digest(value: str | None, what: str, *, exact: bool) -> str | None:
    if value is None:
        return None
    value = value.lower()
    if exact and not _SHA256.match(value):
        raise ValueError(f"{what} must be 64 hexadecimal digits, got {value!r}")
    if not exact and not re.match(r"^[0-9a-f]{1,64}$", value):
        raise ValueError(f"{what} must be hexadecimal digits, got {value!r}")
    return value


def _fsync_directory(directory: Path) -> None:
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


class _RedactFilter(logging.Filter):
    def __init__(self, auth: _Auth):
        super().__init__()
        self.auth = auth

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.auth.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


@contextmanager
def _redacted_http_logs(auth: _Auth) -> Iterator[None]:
    """While a credential is in use, redact it from what the HTTP libraries log (urllib3 logs URLs)."""
    if not auth.secrets:
        yield
        return
    redact = _RedactFilter(auth)
    loggers = [logging.getLogger(name) for name in _HTTP_LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)
