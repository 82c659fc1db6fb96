"""Downloads against a real HTTP server on localhost: resume, retry, mirrors, verification, credentials."""

import base64
import hashlib
import logging
import os
import random
import socket
import traceback
from pathlib import Path

import pytest
import yaml
from http_server import FileServer

from defectlab.data.download import (
    ChecksumMismatchError,
    DownloadError,
    MissingCredentialError,
    fetch,
    fetch_archive,
    verify_archive,
)
from defectlab.data.registry import Archive, Credentials, Entry, Licence, load_registry

PAYLOAD = random.Random(6).randbytes(300_000)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"retries": 3, "backoff": 0.01, "timeout": 5, "chunk": 8192, "progress": False}
SECRET = "s3cr3t-T0ken+/with=odd&chars"
SECRET_CORE = "s3cr3t-T0ken"  # the part every encoding of SECRET (plain, %-encoded, form-encoded) keeps


@pytest.fixture
def server():
    with FileServer() as running:
        yield running


def test_plain_download_is_verified_and_complete(server, tmp_path):
    server.serve("/data.bin", PAYLOAD)
    dest = tmp_path / "sub" / "data.bin"
    assert fetch(server.url("/data.bin"), dest, sha256=DIGEST, size=len(PAYLOAD), **FAST) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_name("data.bin.part").exists()
    [request] = server.requests
    assert "range" not in request.headers


def test_resume_after_a_dropped_connection(server, tmp_path):
    server.serve("/data.bin", PAYLOAD, drop_after=100_000)
    dest = tmp_path / "data.bin"
    fetch([server.url("/data.bin")], dest, sha256=DIGEST, size=len(PAYLOAD), **FAST)
    first, second = server.requests
    assert "range" not in first.headers
    assert 0 < _range_start(second) <= 100_000  # from the bytes written before the drop
    assert dest.read_bytes() == PAYLOAD


def _range_start(request) -> int:
    value = request.headers["range"]
    assert value.startswith("bytes=") and value.endswith("-")
    return int(value[len("bytes=") : -1])


def test_resume_from_the_part_file_of_an_earlier_run(server, tmp_path):
    server.serve("/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(PAYLOAD[:123_456])
    fetch(server.url("/data.bin"), dest, sha256=DIGEST, **FAST)
    [request] = server.requests
    assert request.headers["range"] == "bytes=123456-"
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.serve("/data.bin", PAYLOAD, drop_after=100_000, honour_range=False)
    dest = tmp_path / "data.bin"
    fetch(server.url("/data.bin"), dest, sha256=DIGEST, size=len(PAYLOAD), **FAST)
    first, second = server.requests
    assert _range_start(second) > 0  # asked to resume, got the whole file (200)
    assert dest.read_bytes() == PAYLOAD  # not the first 100000 bytes twice


def test_retries_after_503(server, tmp_path):
    server.serve("/data.bin", PAYLOAD, fail_first=2)
    dest = tmp_path / "data.bin"
    fetch(server.url("/data.bin"), dest, sha256=DIGEST, **FAST)
    assert len(server.requests) == 3
    assert dest.read_bytes() == PAYLOAD


def test_gives_up_after_the_retries(server, tmp_path):
    server.serve("/data.bin", PAYLOAD, fail_first=100)
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match=r"HTTP 503.*gave up after 3 attempts"):
        fetch(server.url("/data.bin"), dest, **{**FAST, "retries": 2})
    assert len(server.requests) == 3
    assert not dest.exists()


def test_mirror_that_404s_then_a_good_one(server, tmp_path):
    server.serve("/good/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    fetch([server.url("/gone/data.bin"), server.url("/good/data.bin")], dest, sha256=DIGEST, **FAST)
    assert [r.path for r in server.requests] == ["/gone/data.bin", "/good/data.bin"]  # a 404 is not retried
    assert dest.read_bytes() == PAYLOAD


def test_all_mirrors_failing_lists_each(server, tmp_path):
    server.serve("/forbidden", status=403)
    with pytest.raises(DownloadError) as failure:
        fetch([server.url("/gone"), server.url("/forbidden")], tmp_path / "x.bin", **FAST)
    message = str(failure.value)
    assert "2 mirror(s)" in message and "HTTP 404" in message and "HTTP 403" in message


def test_checksum_mismatch_keeps_the_file_aside(server, tmp_path):
    server.serve("/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatchError) as failure:
        fetch(server.url("/data.bin"), dest, sha256=wrong, **FAST)
    assert wrong in str(failure.value) and DIGEST in str(failure.value)
    assert not dest.exists()
    assert not dest.with_name("data.bin.part").exists()
    bad = tmp_path / "data.bin.bad"
    assert failure.value.bad_path == bad and bad.read_bytes() == PAYLOAD


def test_size_mismatch_is_refused(server, tmp_path):
    server.serve("/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    with pytest.raises(ChecksumMismatchError, match=rf"expected {len(PAYLOAD) + 1} bytes, got {len(PAYLOAD)} bytes"):
        fetch(server.url("/data.bin"), dest, size=len(PAYLOAD) + 1, **FAST)
    assert not dest.exists() and (tmp_path / "data.bin.bad").exists()


def test_sha256_prefix_is_checked(server, tmp_path):
    server.serve("/w.pth", PAYLOAD)
    fetch(server.url("/w.pth"), tmp_path / "ok.pth", sha256_prefix=DIGEST[:8], **FAST)
    with pytest.raises(ChecksumMismatchError, match="starting with 00000000"):
        fetch(server.url("/w.pth"), tmp_path / "bad.pth", sha256_prefix="00000000", **FAST)


def test_unknown_checksum_logs_the_pin_lines(server, tmp_path, caplog):
    server.serve("/data.bin", PAYLOAD)
    caplog.set_level(logging.WARNING, logger="defectlab.data.download")
    fetch(server.url("/data.bin"), tmp_path / "data.bin", **FAST)
    assert f'sha256: "{DIGEST}"' in caplog.text
    assert f"size: {len(PAYLOAD)}" in caplog.text
    assert "config/registry.yaml" in caplog.text


def test_existing_destination_is_verified_not_downloaded(server, tmp_path):
    server.serve("/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    dest.write_bytes(PAYLOAD)
    assert fetch(server.url("/data.bin"), dest, sha256=DIGEST, **FAST) == dest
    assert server.requests == []
    dest.write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError):
        fetch(server.url("/data.bin"), dest, sha256=DIGEST, **FAST)
    assert not dest.exists() and (tmp_path / "data.bin.bad").read_bytes() == b"tampered"


def _assert_no_secret(caplog, capsys, *texts):
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err, *texts):
        assert SECRET_CORE not in text


def test_header_credential_is_sent_and_never_shown(server, tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("DEFECTLAB_TEST_TOKEN", SECRET)
    server.serve("/data.bin", PAYLOAD, require_header=("X-Api-Key", SECRET), fail_first=1)
    caplog.set_level(logging.DEBUG)
    credentials = Credentials(env="DEFECTLAB_TEST_TOKEN", send="header", name="X-Api-Key")
    dest = tmp_path / "data.bin"
    fetch(server.url("/data.bin"), dest, credentials=credentials, **{**FAST, "progress": True})
    assert dest.read_bytes() == PAYLOAD
    assert all(r.headers["x-api-key"] == SECRET for r in server.requests)
    assert "retry 1 of 3" in caplog.text  # the 503 was logged ...
    _assert_no_secret(caplog, capsys)  # ... without the secret, and so was the progress bar


def test_query_credential_is_redacted_from_logs(server, tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("DEFECTLAB_TEST_TOKEN", SECRET)
    server.serve("/data.bin", PAYLOAD, require_query=("api_key", SECRET))
    caplog.set_level(logging.DEBUG)
    credentials = Credentials(env="DEFECTLAB_TEST_TOKEN", send="query", name="api_key")
    dest = tmp_path / "data.bin"
    fetch([server.url("/gone"), server.url("/data.bin")], dest, credentials=credentials, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests_to("/data.bin")[0].query["api_key"] == SECRET
    assert "api_key=***" in caplog.text  # urllib3 logged the request line, redacted
    _assert_no_secret(caplog, capsys)


def test_refused_credential_error_holds_no_secret(server, tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("DEFECTLAB_TEST_TOKEN", SECRET)
    server.serve("/data.bin", PAYLOAD, require_query=("api_key", "another value"))
    caplog.set_level(logging.DEBUG)
    credentials = Credentials(env="DEFECTLAB_TEST_TOKEN", send="query", name="api_key")
    with pytest.raises(DownloadError, match="HTTP 401: the credentials were refused") as failure:
        fetch(server.url("/data.bin"), tmp_path / "data.bin", credentials=credentials, **FAST)
    assert len(server.requests) == 1  # a 401 is not retried
    _assert_no_secret(caplog, capsys, "".join(traceback.format_exception(failure.value)))


def test_connection_error_holds_no_secret(tmp_path, monkeypatch, caplog, capsys):
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DEFECTLAB_TEST_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    credentials = Credentials(env="DEFECTLAB_TEST_TOKEN", send="query", name="api_key")
    with pytest.raises(DownloadError, match="connection failed") as failure:
        fetch(f"http://127.0.0.1:{port}/data.bin", tmp_path / "data.bin", credentials=credentials, **FAST)
    _assert_no_secret(caplog, capsys, "".join(traceback.format_exception(failure.value)))


def test_basic_credentials(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DEFECTLAB_TEST_USER", "alice")
    monkeypatch.setenv("DEFECTLAB_TEST_TOKEN", SECRET)
    token = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    server.serve("/data.bin", PAYLOAD, require_header=("Authorization", f"Basic {token}"))
    credentials = Credentials(env="DEFECTLAB_TEST_TOKEN", send="basic", username_env="DEFECTLAB_TEST_USER")
    fetch(server.url("/data.bin"), tmp_path / "data.bin", credentials=credentials, sha256=DIGEST, **FAST)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_credentials_stay_on_the_mirror_host(server, tmp_path, monkeypatch):
    monkeypatch.setenv("DEFECTLAB_TEST_TOKEN", SECRET)
    with FileServer() as storage:  # another origin, like a signed storage URL
        storage.serve("/blob", PAYLOAD)
        server.serve("/data.bin", require_header=("X-Api-Key", SECRET), redirect=storage.url("/blob"))
        credentials = Credentials(env="DEFECTLAB_TEST_TOKEN", send="header", name="X-Api-Key")
        fetch(server.url("/data.bin"), tmp_path / "data.bin", credentials=credentials, sha256=DIGEST, **FAST)
        [request] = storage.requests
        assert "x-api-key" not in request.headers
    assert server.requests[0].headers["x-api-key"] == SECRET


def test_missing_credential_names_the_variable(server, tmp_path, monkeypatch):
    monkeypatch.delenv("DEFECTLAB_TEST_TOKEN", raising=False)
    server.serve("/data.bin", PAYLOAD)
    credentials = Credentials(env="DEFECTLAB_TEST_TOKEN", send="header", name="X-Api-Key")
    with pytest.raises(MissingCredentialError, match="set the environment variable DEFECTLAB_TEST_TOKEN"):
        fetch(server.url("/data.bin"), tmp_path / "data.bin", credentials=credentials, **FAST)
    assert server.requests == []


def _registry(tmp_path: Path, entries: dict) -> Path:
    path = tmp_path / "registry.yaml"
    document = {
        "version": 1,
        "download_dir": str(tmp_path / "downloads"),
        "weights_dir": str(tmp_path / "weights"),
        "entries": entries,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def test_fetch_archive_from_a_registry_entry(server, tmp_path):
    server.serve("/ksdd2.zip", PAYLOAD)
    registry = load_registry(
        _registry(
            tmp_path,
            {
                "ksdd2": {
                    "kind": "dataset",
                    "description": "test",
                    "converter": "kolektorsdd2",
                    "licence": {"name": None, "url": None, "redistribution": "unknown"},
                    "archives": [{"file": "K.zip", "format": "zip", "urls": [server.url("/ksdd2.zip")]}],
                }
            },
        )
    )
    path = fetch_archive(registry["ksdd2"], registry=registry, **FAST)
    assert path == tmp_path / "downloads" / "ksdd2" / "K.zip"
    assert path.read_bytes() == PAYLOAD


def test_manual_and_credentialed_entries_explain_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.delenv("DEFECTLAB_TEST_TOKEN", raising=False)
    licence = {"name": None, "url": None, "redistribution": "unknown"}
    registry = load_registry(
        _registry(
            tmp_path,
            {
                "plates": {
                    "kind": "dataset",
                    "description": "test",
                    "converter": "fraunhofer_plates",
                    "licence": licence,
                    "manual": True,
                    "how_to_fetch": "Download it from the landing page.",
                    "archives": [{"file": "real.zip", "format": "zip", "urls": []}],
                },
                "steel": {
                    "kind": "dataset",
                    "description": "test",
                    "converter": "severstal",
                    "licence": licence,
                    "credentials": {"env": "DEFECTLAB_TEST_TOKEN", "send": "query", "name": "key"},
                    "how_to_fetch": "Create a token on the site.",
                    "archives": [{"file": "s.zip", "format": "zip", "urls": ["http://127.0.0.1:9/s.zip"]}],
                },
            },
        )
    )
    with pytest.raises(DownloadError, match="cannot be downloaded automatically.\nDownload it from the landing"):
        fetch_archive(registry["plates"], registry=registry, **FAST)
    with pytest.raises(MissingCredentialError, match=r"DEFECTLAB_TEST_TOKEN \(is not set\)\.\nCreate a token"):
        fetch_archive(registry["steel"], registry=registry, **FAST)
    placed = registry.destination("plates", "real.zip")
    placed.parent.mkdir(parents=True)
    placed.write_bytes(PAYLOAD)
    assert fetch_archive(registry["plates"], "real.zip", registry=registry, **FAST) == placed


def _entry(file: str, **published) -> Entry:
    archive = Archive(file=file, format="zip", urls=("https://example.org/" + file,), **published)
    return Entry("demo", "dataset", "test", "kolektorsdd2", Licence(None, None, "unknown"), (archive,))


def test_an_archive_placed_by_hand_with_a_wrong_checksum_is_refused_and_left_in_place(tmp_path):
    placed = tmp_path / "demo.zip"
    placed.write_bytes(PAYLOAD[:-1] + b"x")
    actual = hashlib.sha256(placed.read_bytes()).hexdigest()
    with pytest.raises(ChecksumMismatchError) as failure:
        verify_archive(_entry("demo.zip", sha256=DIGEST, size=len(PAYLOAD)), placed)
    message = str(failure.value)
    assert message.startswith(f"{placed} is not the archive demo.zip of demo in config/registry.yaml:")
    assert f"sha256: expected {DIGEST}, got {actual}" in message
    assert "size:" not in message  # the size is right: only what differs is listed
    assert "or delete it to download it again" in message
    assert failure.value.bad_path == placed and placed.exists()


def test_a_wrong_size_is_refused_with_both_sizes(tmp_path):
    placed = tmp_path / "demo.zip"
    placed.write_bytes(PAYLOAD[:1000])
    with pytest.raises(ChecksumMismatchError, match=rf"size: expected {len(PAYLOAD)} bytes, got 1000 bytes"):
        verify_archive(_entry("demo.zip", size=len(PAYLOAD)), placed)


def test_a_verified_archive_is_not_hashed_again_until_it_changes(tmp_path):
    """The stamp beside the file holds its SHA-256 for its size, mtime and inode: same file, no second hash."""
    placed = tmp_path / "demo.zip"
    placed.write_bytes(PAYLOAD)
    entry = _entry("demo.zip", sha256=DIGEST)
    assert verify_archive(entry, placed) == DIGEST
    assert (tmp_path / "demo.zip.verified").is_file()
    stat = placed.stat()
    with open(placed, "r+b") as stream:  # same size, same inode, mtime put back: the stamp still holds
        stream.write(b"\0")
    os.utime(placed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert verify_archive(entry, placed) == DIGEST  # taken from the stamp, not hashed
    os.utime(placed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched: hashed again
    with pytest.raises(ChecksumMismatchError):
        verify_archive(entry, placed)


def test_a_download_leaves_the_stamp_so_extraction_does_not_hash_it_again(server, tmp_path):
    server.serve("/demo.zip", PAYLOAD)
    dest = fetch(server.url("/demo.zip"), tmp_path / "demo.zip", sha256=DIGEST, **FAST)
    stamp = yaml.safe_load((tmp_path / "demo.zip.verified").read_text())
    assert stamp["sha256"] == DIGEST and stamp["size"] == len(PAYLOAD) and stamp["mtime_ns"] == dest.stat().st_mtime_ns


def test_an_unpinned_archive_placed_by_hand_logs_its_pin_lines(tmp_path, caplog):
    placed = tmp_path / "demo.zip"
    placed.write_bytes(PAYLOAD)
    caplog.set_level(logging.WARNING, logger="defectlab.data.download")
    assert verify_archive(_entry("demo.zip"), placed) == DIGEST
    assert f'sha256: "{DIGEST}"' in caplog.text and f"size: {len(PAYLOAD)}" in caplog.text
