"""The registry of downloadable datasets and backbone weights (`config/registry.yaml`).

Each entry says where an artefact comes from (mirrors tried in order), how to check it (size, SHA-256 or a
SHA-256 prefix where that is all that is published), under which licence it may be used and passed on, which
credential it needs (an environment variable, sent as an HTTP header, a query parameter or HTTP Basic auth)
and which converter of `defectlab.data.converters` brings it into the common dataset layout (or why none does
yet: `converter: null` with `no_converter`). `load_registry` validates the whole file and
reports every problem at once, naming the key; nothing is downloaded here (see `defectlab.data.download`).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from defectlab.data.converters import CONVERTERS

DEFAULT_REGISTRY = Path(__file__).resolve().parents[3] / "config" / "registry.yaml"

KINDS = ("dataset", "weights")
# "file" is an artefact used as downloaded (weights); the others are extracted with defectlab.data.extract.
ARCHIVE_FORMATS = ("zip", "tar", "tar.gz", "tar.bz2", "tar.xz", "file")
# Whether the licence lets this project (or a user) pass the archive on: "non-commercial" where the licence
# allows sharing for non-commercial use only, "unknown" where no licence is stated (treat as "no").
REDISTRIBUTION = ("yes", "non-commercial", "no", "unknown")
CREDENTIAL_METHODS = ("header", "query", "basic")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA256_PREFIX = re.compile(r"^[0-9a-f]{8,63}$")

_TOP_KEYS = {"version", "download_dir", "weights_dir", "entries"}
_ENTRY_KEYS = {
    "kind",
    "description",
    "homepage",
    "converter",
    "no_converter",
    "licence",
    "credentials",
    "how_to_fetch",
    "manual",
    "archives",
}
_LICENCE_KEYS = {"name", "url", "redistribution"}
_CREDENTIAL_KEYS = {"env", "send", "name", "prefix", "username_env"}
_ARCHIVE_KEYS = {"file", "format", "urls", "size", "sha256", "sha256_prefix", "approx_size", "note"}


class RegistryError(ValueError):
    """The registry file is missing, not YAML, or breaks the schema (the message lists every problem)."""


@dataclass(frozen=True)
class Licence:
    name: str | None  # e.g. "CC BY-NC-SA 4.0"; None where no licence is stated
    url: str | None
    redistribution: str  # one of REDISTRIBUTION


@dataclass(frozen=True)
class Credentials:
    """Where a secret comes from and how it is sent; the secret itself never enters the registry.

    send = "header": the value of `env` (after `prefix`, e.g. "Bearer ") in the HTTP header `name`;
    send = "query": the value of `env` as the query parameter `name`;
    send = "basic": HTTP Basic auth with the user name from `username_env` and the password from `env`.
    """

    env: str
    send: str
    name: str | None = None
    prefix: str = ""
    username_env: str | None = None

    @property
    def variables(self) -> tuple[str, ...]:
        """The environment variables that must be set."""
        return (self.username_env, self.env) if self.username_env else (self.env,)


@dataclass(frozen=True)
class Archive:
    file: str  # the file name the download is stored under
    format: str  # one of ARCHIVE_FORMATS
    urls: tuple[str, ...]  # mirrors, tried in order
    size: int | None = None  # bytes, where published
    sha256: str | None = None  # lower-case hex, where published
    sha256_prefix: str | None = None  # leading hex digits, where only a prefix is published (torchvision)
    approx_size: str | None = None  # for people: "4.9 GiB"
    note: str | None = None


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # "dataset" or "weights"
    description: str
    converter: str | None  # a module of defectlab.data.converters; None for weights and not-yet-converted data
    licence: Licence
    archives: tuple[Archive, ...]
    homepage: str | None = None
    credentials: Credentials | None = None
    how_to_fetch: str | None = None
    manual: bool = False  # True: no URL can be fetched automatically; the user places the archive by hand
    no_converter: str | None = None  # why a dataset has no converter yet (its converter is None)

    def archive(self, file: str | None = None) -> Archive:
        """The archive named `file`, or the only one when `file` is None."""
        if file is None:
            if len(self.archives) != 1:
                names = ", ".join(a.file for a in self.archives)
                raise KeyError(f"registry entry {self.name!r} has several archives ({names}): name one")
            return self.archives[0]
        for archive in self.archives:
            if archive.file == file:
                return archive
        names = ", ".join(a.file for a in self.archives)
        raise KeyError(f"registry entry {self.name!r} has no archive {file!r} (it has: {names})")


@dataclass(frozen=True)
class Registry:
    path: Path
    download_dir: Path  # datasets: {download_dir}/{entry}/{file}
    weights_dir: Path  # weights: {weights_dir}/{file} (a torch hub checkpoints directory)
    entries: Mapping[str, Entry] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(sorted(self.entries))
            raise KeyError(f"{self.path}: no registry entry {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(self.entries.values())

    def destination(self, name: str, file: str | None = None) -> Path:
        """Where the archive `file` of entry `name` is stored once downloaded and verified."""
        item = self[name]
        archive = item.archive(file)
        if item.kind == "weights":
            return self.weights_dir / archive.file
        return self.download_dir / item.name / archive.file


def load_registry(path: str | Path = DEFAULT_REGISTRY) -> Registry:
    """Read and validate a registry file; a RegistryError lists every problem with its key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"registry file not found: {path}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise RegistryError(f"{path}: not valid YAML: {error}") from None
    problems: list[str] = []
    registry = _parse(path, data, problems)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise RegistryError(f"{path}: {len(problems)} problem(s) in the dataset registry:\n{listing}")
    assert registry is not None
    return registry


def entry(name: str, registry: Registry | str | Path | None = None) -> Entry:
    """One entry of `registry` (a loaded Registry or a path; default: config/registry.yaml)."""
    if not isinstance(registry, Registry):
        registry = load_registry(DEFAULT_REGISTRY if registry is None else registry)
    return registry[name]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse(path: Path, data: Any, problems: list[str]) -> Registry | None:
    if not isinstance(data, dict):
        problems.append("the file must be a mapping with keys version, download_dir, weights_dir, entries")
        return None
    _unknown_keys(data, _TOP_KEYS, "", problems)
    if data.get("version") != 1:
        problems.append(f"version: expected 1, got {data.get('version')!r}")
    dirs = {}
    for key in ("download_dir", "weights_dir"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}: expected a directory path, got {value!r}")
        dirs[key] = Path(value) if isinstance(value, str) else Path()
    raw_entries = data.get("entries")
    entries: dict[str, Entry] = {}
    if not isinstance(raw_entries, dict) or not raw_entries:
        problems.append("entries: expected a non-empty mapping of entry name to entry")
    else:
        for name, raw in raw_entries.items():
            parsed = _parse_entry(name, raw, problems)
            if parsed is not None:
                entries[name] = parsed
        _check_weight_files(entries, problems)
    return Registry(path, dirs["download_dir"], dirs["weights_dir"], entries)


def _parse_entry(name: Any, raw: Any, problems: list[str]) -> Entry | None:
    where = f"entries.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}: entry names are lower-case letters, digits and '_'")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    before = len(problems)
    _unknown_keys(raw, _ENTRY_KEYS, where, problems)
    kind = _choice(raw, "kind", KINDS, where, problems)
    description = _text(raw, "description", where, problems, required=True)
    converter, no_converter = _parse_converter(raw, kind, where, problems)
    homepage = _url(raw.get("homepage"), f"{where}.homepage", problems, required=False)
    licence = _parse_licence(raw.get("licence"), f"{where}.licence", problems)
    credentials = _parse_credentials(raw.get("credentials"), f"{where}.credentials", problems)
    how_to_fetch = _text(raw, "how_to_fetch", where, problems, required=False)
    manual = raw.get("manual", False)
    if not isinstance(manual, bool):
        problems.append(f"{where}.manual: expected true or false, got {manual!r}")
        manual = False
    if (manual or credentials is not None) and not how_to_fetch:
        problems.append(f"{where}.how_to_fetch: required for manual or credentialed entries")
    archives = _parse_archives(raw.get("archives"), where, manual, credentials, problems)
    if len(problems) > before:
        return None
    return Entry(
        name=name,
        kind=kind,
        description=description,
        converter=converter,
        licence=licence,
        archives=archives,
        homepage=homepage,
        credentials=credentials,
        how_to_fetch=how_to_fetch,
        manual=manual,
        no_converter=no_converter,
    )


def _parse_converter(raw: dict, kind: str, where: str, problems: list[str]) -> tuple[str | None, str | None]:
    """A dataset names its converter, or `converter: null` with the reason in `no_converter` (so a config that
    uses it is refused at start-up with that reason); weights are used as downloaded and name neither."""
    converter, reason = raw.get("converter"), raw.get("no_converter")
    if kind == "weights":
        for key in ("converter", "no_converter"):
            if key in raw:
                problems.append(f"{where}.{key}: weights are used as downloaded; leave it out")
        return None, None
    if converter is None:
        if "converter" not in raw:
            problems.append(f"{where}.converter: required (a converter name, or null with no_converter: why)")
        elif not isinstance(reason, str) or not reason.strip():
            problems.append(f"{where}.no_converter: converter is null: say why there is none yet, and what to do")
        return None, reason.strip() if isinstance(reason, str) else None
    if converter not in CONVERTERS:
        problems.append(
            f"{where}.converter: no converter module {converter!r} in defectlab.data.converters "
            f"(known: {', '.join(CONVERTERS)}; null with no_converter: why, where there is none yet)"
        )
    if reason is not None:
        problems.append(f"{where}.no_converter: only with converter: null")
    return converter, None


def _parse_licence(raw: Any, where: str, problems: list[str]) -> Licence | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with name, url, redistribution")
        return None
    _unknown_keys(raw, _LICENCE_KEYS, where, problems)
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"{where}.name: expected text or null, got {name!r}")
    url = _url(raw.get("url"), f"{where}.url", problems, required=False)
    redistribution = _choice(raw, "redistribution", REDISTRIBUTION, where, problems)
    return Licence(name, url, redistribution)


def _parse_credentials(raw: Any, where: str, problems: list[str]) -> Credentials | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected null or a mapping with env and send")
        return None
    _unknown_keys(raw, _CREDENTIAL_KEYS, where, problems)
    env = raw.get("env")
    if not isinstance(env, str) or not _ENV.match(env):
        problems.append(f"{where}.env: expected an environment variable name such as KAGGLE_KEY, got {env!r}")
    send = _choice(raw, "send", CREDENTIAL_METHODS, where, problems)
    name = raw.get("name")
    prefix = raw.get("prefix", "")
    username_env = raw.get("username_env")
    if send in ("header", "query"):
        if not isinstance(name, str) or not name.strip():
            what = "HTTP header" if send == "header" else "query parameter"
            problems.append(f"{where}.name: the {what} that carries the credential is required")
        if username_env is not None:
            problems.append(f"{where}.username_env: only for send: basic")
    if send == "basic":
        if name is not None:
            problems.append(f"{where}.name: not used with send: basic (the Authorization header)")
        if not isinstance(username_env, str) or not _ENV.match(username_env):
            problems.append(f"{where}.username_env: send: basic needs the variable holding the user name")
    if not isinstance(prefix, str) or (prefix and send != "header"):
        problems.append(f"{where}.prefix: text, only for send: header (e.g. 'Bearer ')")
    return Credentials(env=env, send=send, name=name, prefix=prefix or "", username_env=username_env)


def _parse_archives(
    raw: Any, where: str, manual: bool, credentials: Credentials | None, problems: list[str]
) -> tuple[Archive, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}.archives: expected a non-empty list")
        return ()
    archives = []
    seen = set()
    for i, item in enumerate(raw):
        at = f"{where}.archives[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{at}: expected a mapping")
            continue
        _unknown_keys(item, _ARCHIVE_KEYS, at, problems)
        file = item.get("file")
        if not isinstance(file, str) or not file or file in (".", "..") or "/" in file or "\\" in file:
            problems.append(f"{at}.file: expected a plain file name, got {file!r}")
        elif file in seen:
            problems.append(f"{at}.file: {file!r} is listed twice")
        seen.add(file)
        fmt = _choice(item, "format", ARCHIVE_FORMATS, at, problems)
        urls = item.get("urls")
        if not isinstance(urls, list):
            problems.append(f"{at}.urls: expected a list of mirror URLs (may be empty only with manual: true)")
            urls = []
        if not urls and not manual:
            problems.append(f"{at}.urls: missing: give at least one URL, or set manual: true with how_to_fetch")
        for j, url in enumerate(urls):
            url = _url(url, f"{at}.urls[{j}]", problems, required=True)
            secret_param = credentials.name if credentials is not None and credentials.send == "query" else None
            if url and secret_param and re.search(rf"[?&]{re.escape(secret_param)}=", url):
                problems.append(f"{at}.urls[{j}]: carries {secret_param}= itself; secrets come from ${credentials.env}")
        size = item.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            problems.append(f"{at}.size: expected a positive number of bytes or null, got {size!r}")
        sha256 = _hexdigest(item.get("sha256"), _SHA256, "64 hexadecimal digits", f"{at}.sha256", problems)
        prefix = _hexdigest(
            item.get("sha256_prefix"), _SHA256_PREFIX, "8 to 63 hexadecimal digits", f"{at}.sha256_prefix", problems
        )
        if sha256 and prefix and not sha256.startswith(prefix):
            problems.append(f"{at}.sha256_prefix: {prefix} is not the start of sha256 {sha256}")
        approx = item.get("approx_size")
        note = item.get("note")
        for key, value in (("approx_size", approx), ("note", note)):
            if value is not None and not isinstance(value, str):
                problems.append(f"{at}.{key}: expected text or null, got {value!r}")
        archives.append(
            Archive(
                file=file,
                format=fmt,
                urls=tuple(u for u in urls if isinstance(u, str)),
                size=size,
                sha256=sha256,
                sha256_prefix=prefix,
                approx_size=approx,
                note=note,
            )
        )
    return tuple(archives)


def _check_weight_files(entries: dict[str, Entry], problems: list[str]) -> None:
    """Weight files share one cache directory, so their names must be unique across entries."""
    owner: dict[str, str] = {}
    for item in entries.values():
        if item.kind != "weights":
            continue
        for archive in item.archives:
            if archive.file in owner:
                problems.append(
                    f"entries.{item.name}: weight file {archive.file!r} is also listed by {owner[archive.file]}"
                )
            owner[archive.file] = item.name


def _unknown_keys(raw: dict, allowed: set[str], where: str, problems: list[str]) -> None:
    for key in raw:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            problems.append(f"{prefix}{key}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _choice(raw: dict, key: str, choices: tuple[str, ...], where: str, problems: list[str]) -> Any:
    value = raw.get(key)
    if value not in choices:
        problems.append(f"{where}.{key}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _text(raw: dict, key: str, where: str, problems: list[str], *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key}: expected non-empty text, got {value!r}")
        return None
    return value.strip()


def _url(value: Any, where: str, problems: list[str], *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        problems.append(f"{where}: expected an http(s) URL, got {value!r}")
        return None
    return value


def _hexdigest(value: Any, pattern: re.Pattern, what: str, where: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value.lower()):
        problems.append(f"{where}: expected {what} or null, got {value!r}")
        return None
    return value.lower()
