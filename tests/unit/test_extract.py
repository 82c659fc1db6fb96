"""Safe extraction: good archives come out whole, hostile ones are refused before anything is written."""

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from defectlab.data.extract import UnsafeArchiveError, safe_extract

OK = b"a regular file\n"


def _file(name: str, data: bytes = OK) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def _tar(path: Path, members, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _zip(path: Path, members) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.create_system = 3  # Unix
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


@pytest.fixture
def site(tmp_path):
    """A work directory with a victim file beside the target, to see that nothing outside is touched."""
    work = tmp_path / "work"
    work.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"untouched")
    return work, victim


def _assert_nothing_written(tmp_path: Path, work: Path, target: Path, victim: Path, archive: Path) -> None:
    assert not target.exists()
    assert sorted(p.name for p in work.iterdir()) == [archive.name]  # no partial target either
    assert victim.read_bytes() == b"untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt", "work"]


def test_good_tar_gz_extracts(tmp_path):
    archive = _tar(
        tmp_path / "good.tar.gz",
        [
            _special("dataset/", tarfile.DIRTYPE),
            _file("dataset/train/good/000.png", b"png-0"),
            _file("./dataset/test/crack/001.png", b"png-1"),
            _special("dataset/test/crack/001-copy.png", tarfile.LNKTYPE, "./dataset/test/crack/001.png"),
        ],
    )
    target = tmp_path / "out" / "mvtec"
    files = safe_extract(archive, target)
    assert files == [
        target / "dataset/train/good/000.png",
        target / "dataset/test/crack/001.png",
        target / "dataset/test/crack/001-copy.png",
    ]
    assert (target / "dataset/train/good/000.png").read_bytes() == b"png-0"
    assert (target / "dataset/test/crack/001-copy.png").read_bytes() == b"png-1"
    assert [p.name for p in target.parent.iterdir()] == ["mvtec"]  # the staging directory is gone


def test_good_zip_extracts(tmp_path):
    archive = _zip(
        tmp_path / "good.zip",
        [
            ("KolektorSDD2/", b"", stat.S_IFDIR | 0o755),
            ("KolektorSDD2/train/10000.png", b"image", stat.S_IFREG | 0o644),
            ("KolektorSDD2/train/10000_GT.png", b"mask", None),
        ],
    )
    target = tmp_path / "ksdd2"
    files = safe_extract(archive, target)
    assert files == [target / "KolektorSDD2/train/10000.png", target / "KolektorSDD2/train/10000_GT.png"]
    assert (target / "KolektorSDD2/train/10000_GT.png").read_bytes() == b"mask"


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (lambda outside: _file("../evil.txt"), "'..' path component"),
        (lambda outside: _file("data/../../evil.txt"), "'..' path component"),
        (lambda outside: _file(str(outside / "abs.txt")), "absolute path"),
        (lambda outside: _special("link", tarfile.SYMTYPE, "../victim.txt"), "symbolic link"),
        (lambda outside: _special("inside-link", tarfile.SYMTYPE, "data/ok.txt"), "symbolic link"),
        (lambda outside: _special("hard", tarfile.LNKTYPE, "../victim.txt"), "hard link"),
        (lambda outside: _special("hard", tarfile.LNKTYPE, str(outside / "victim.txt")), "hard link"),
        (lambda outside: _special("hard", tarfile.LNKTYPE, "data/not-in-archive.txt"), "not an earlier regular"),
        (lambda outside: _special("pipe", tarfile.FIFOTYPE), "FIFO"),
        (lambda outside: _special("tty", tarfile.CHRTYPE), "character device"),
        (lambda outside: _special("disk", tarfile.BLKTYPE), "block device"),
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "symlink-outside",
        "symlink-inside",
        "hardlink-outside",
        "hardlink-absolute",
        "hardlink-dangling",
        "fifo",
        "chardev",
        "blockdev",
    ],
)
def test_hostile_tar_is_refused(tmp_path, site, member, reason):
    work, victim = site
    archive = _tar(work / "bad.tar", [_file("data/ok.txt"), member(tmp_path)], mode="w")
    target = work / "out"
    with pytest.raises(UnsafeArchiveError, match=reason) as failure:
        safe_extract(archive, target)
    assert "nothing was extracted" in str(failure.value)
    _assert_nothing_written(tmp_path, work, target, victim, archive)


def test_symlink_then_write_through_it_is_refused(tmp_path, site):
    work, victim = site
    archive = _tar(
        work / "bad.tar.gz",
        [_special("escape", tarfile.SYMTYPE, str(tmp_path)), _file("escape/pwned.txt")],
    )
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        safe_extract(archive, work / "out")
    assert not (tmp_path / "pwned.txt").exists()
    _assert_nothing_written(tmp_path, work, work / "out", victim, archive)


@pytest.mark.parametrize(
    ("name", "mode", "reason"),
    [
        ("../evil.txt", None, "'..' path component"),
        ("data/../../evil.txt", None, "'..' path component"),
        ("..\\evil.txt", None, "'..' path component"),
        ("/abs/evil.txt", None, "absolute path"),
        ("link", stat.S_IFLNK | 0o777, "symbolic link"),
        ("pipe", stat.S_IFIFO | 0o644, "Unix file type"),
    ],
    ids=["dotdot", "nested-dotdot", "backslash-dotdot", "absolute", "symlink", "fifo"],
)
def test_hostile_zip_is_refused(tmp_path, site, name, mode, reason):
    work, victim = site
    data = b"../victim.txt" if mode is not None and stat.S_ISLNK(mode) else b"evil"
    archive = _zip(work / "bad.zip", [("data/ok.txt", OK, None), (name, data, mode)])
    target = work / "out"
    with pytest.raises(UnsafeArchiveError, match=reason):
        safe_extract(archive, target)
    _assert_nothing_written(tmp_path, work, target, victim, archive)


def test_all_offending_members_are_named(tmp_path):
    archive = _tar(tmp_path / "bad.tar", [_file("../a"), _file("ok"), _special("p", tarfile.FIFOTYPE)], mode="w")
    with pytest.raises(UnsafeArchiveError) as failure:
        safe_extract(archive, tmp_path / "out")
    message = str(failure.value)
    assert "2 unsafe member(s)" in message and "'../a'" in message and "'p'" in message and "'ok'" not in message


def test_failed_extraction_leaves_no_target(tmp_path):
    """A corrupt member (bad CRC) fails half-way: neither the target nor the staging directory remains."""
    archive = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a/first.txt", b"fine")
        zf.writestr("a/second.txt", b"A" * 1000)
    archive.write_bytes(archive.read_bytes().replace(b"A" * 1000, b"B" * 1000))
    target = tmp_path / "out"
    with pytest.raises(zipfile.BadZipFile):
        safe_extract(archive, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.zip"]


def test_existing_target_is_not_overwritten(tmp_path):
    archive = _zip(tmp_path / "good.zip", [("x.txt", b"new", None)])
    target = tmp_path / "out"
    target.mkdir()
    (target / "x.txt").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="already exists"):
        safe_extract(archive, target)
    assert (target / "x.txt").read_bytes() == b"old"


def test_not_an_archive(tmp_path):
    path = tmp_path / "file.zip"
    path.write_bytes(b"this is not an archive" * 100)
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        safe_extract(path, tmp_path / "out")
