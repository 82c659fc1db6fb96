"""Safe extraction of downloaded archives (zip and tar, plain or gz/bz2/xz-compressed).

Every member is checked before anything is written, and the whole archive is refused with an
UnsafeArchiveError naming each offending member when one of them
- has an absolute path or a '..' component (it would land outside the target),
- is a symbolic link, or a hard link to anything but an earlier regular file of the archive,
- is a device, a FIFO or any other thing that is neither a regular file nor a directory,
- (tar) would be renamed or refused by Python's `tarfile` "data" filter, which otherwise strips leading
  slashes silently; tar members are then extracted with filter="data" as a second line of defence.
Zip members are written by this module itself (zipfile's own extraction silently rewrites '..' and absolute
names instead of refusing them), with the symlink bit of the Unix mode in external_attr checked.

Extraction goes to a temporary sibling directory that is renamed to the target only when complete, so an
interrupted or refused extraction leaves no target behind.
"""

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

MAX_LISTED = 20


class UnsafeArchiveError(ValueError):
    """The archive holds a member that could write outside the target or is not a plain file/directory."""


def safe_extract(archive: str | Path, target: str | Path) -> list[Path]:
    """Extract `archive` into the new directory `target`; return the extracted files, in archive order.

    The target must not exist yet (FileExistsError otherwise); its parent is created. The format is read
    from the file's content, not its name.
    """
    archive, target = Path(archive), Path(target)
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target} already exists: remove it to extract {archive.name} again")
    if not archive.is_file():
        raise FileNotFoundError(f"archive not found: {archive}")
    if zipfile.is_zipfile(archive):
        extractor = _extract_zip
    elif tarfile.is_tarfile(archive):
        extractor = _extract_tar
    else:
        raise ValueError(f"{archive}: neither a zip nor a tar archive")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        files = extractor(archive, staging)
        os.chmod(staging, 0o755)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [target / name for name in files]


def _extract_tar(archive: Path, staging: Path) -> list[str]:
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        problems: list[str] = []
        regular: set[str] = set()
        files: list[str] = []
        for member in members:
            problem = _tar_problem(member, regular, staging)
            if problem:
                problems.append(f"{member.name!r}: {problem}")
                continue
            if member.isreg() or member.islnk():
                name = _normalised(member.name)
                regular.add(name)
                if name not in files:
                    files.append(name)
        _refuse(archive, problems)
        tar.extractall(staging, members=members, filter="data")
    return files


def _tar_problem(member: tarfile.TarInfo, regular: set[str], staging: Path) -> str | None:
    problem = _name_problem(member.name)
    if problem:
        return problem
    if member.issym():
        return f"symbolic link (to {member.linkname!r}); links are not extracted"
    if member.islnk():
        problem = _name_problem(member.linkname)
        if problem:
            return f"hard link to {member.linkname!r}: {problem}"
        if _normalised(member.linkname) not in regular:
            return f"hard link to {member.linkname!r}, which is not an earlier regular file of the archive"
    elif not (member.isreg() or member.isdir()):
        return f"{_tar_kind(member)}; only regular files and directories are extracted"
    try:
        filtered = tarfile.data_filter(member, str(staging))
    except tarfile.FilterError as error:
        return f"refused by tarfile's data filter: {error}"
    if filtered.name != member.name or filtered.linkname != member.linkname:
        return f"the data filter would rename it to {filtered.name!r}"
    return None


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.ischr():
        return "character device"
    if member.isblk():
        return "block device"
    if member.isfifo():
        return "FIFO (named pipe)"
    return f"member of tar type {member.type!r}"


def _extract_zip(archive: Path, staging: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        problems: list[str] = []
        seen: set[str] = set()
        for info in infos:
            problem = _zip_problem(info)
            name = _normalised(info.filename)
            if not problem and name in seen:
                problem = "listed twice"
            seen.add(name)
            if problem:
                problems.append(f"{info.filename!r}: {problem}")
        _refuse(archive, problems)
        files = []
        for info in infos:
            path = staging.joinpath(*PurePosixPath(_normalised(info.filename)).parts)
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(path, "xb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            files.append(_normalised(info.filename))
    return files


def _zip_problem(info: zipfile.ZipInfo) -> str | None:
    problem = _name_problem(info.filename)
    if problem:
        return problem
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        return "symbolic link (Unix mode in external_attr); links are not extracted"
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return f"Unix file type {oct(kind)} (device, FIFO or socket); only regular files and directories"
    return None


def _name_problem(name: str) -> str | None:
    """Why a member name could escape the target, or None."""
    if not name or name.strip("/") == "":
        return "empty name"
    if "\x00" in name:
        return "NUL in the name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[0].isalpha() and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' path component (it could land outside the target)"
    return None


def _normalised(name: str) -> str:
    """A member name without './' parts, duplicate or trailing slashes ('./a//b/' -> 'a/b')."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _refuse(archive: Path, problems: list[str]) -> None:
    if not problems:
        return
    listed = "\n".join(f"  - {p}" for p in problems[:MAX_LISTED])
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise UnsafeArchiveError(
        f"{archive}: refusing to extract {len(problems)} unsafe member(s); nothing was extracted:\n{listed}{more}"
    )
