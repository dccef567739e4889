"""Loading and checking partner mapping files (TOML or JSON) for the mapping adapter."""

from __future__ import annotations

import codecs
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal.plugins import AdapterConfigError, Dialect
from portal.plugins.records import (
    CHANNELS,
    FIELDS_BY_KIND,
    KINDS,
    METHODS,
    OUTCOMES,
    PARTIES,
    REQUIRED_BY_KIND,
    SETTLEMENT_TYPES,
)

PARTNERS_DIR = Path(__file__).with_name("partners")
MAX_TITLE_ROWS = 20
_KEY = re.compile(r"[a-z][a-z0-9_]{1,63}")
_ENUMS = {
    "channel": CHANNELS,
    "party": PARTIES,
    "outcome": OUTCOMES,
    "method": METHODS,
    "type": SETTLEMENT_TYPES,
    "connected": ("true", "false"),
}
_KNOWN_KEYS = {
    "key",
    "label",
    "description",
    "version",
    "kind",
    "file_type",
    "encoding",
    "delimiter",
    "sheet",
    "title_rows",
    "decimal",
    "datetime_formats",
    "date_formats",
    "extensions",
    "columns",
    "values",
    "defaults",
    "agency",
}
# ``label_zh_CN = "..."``: the label in another language (a locale as Babel names it).
_LABEL_KEY = re.compile(r"label_([a-z]{2,3}(?:_[A-Za-z]{2,4})?)")
_AGENCY = re.compile(r"[A-Za-z0-9_]{1,20}")


@dataclass(frozen=True)
class PartnerMapping:
    """One partner's table layout, as read from its mapping file."""

    key: str
    label: str
    kind: str
    file_type: str
    columns: dict[str, str]
    source: str
    description: str = ""
    version: str = "1"
    encoding: str = "auto"
    delimiter: str = ","
    sheet: int | str = 0
    title_rows: int = 0
    decimal: str = "."
    datetime_formats: tuple[str, ...] = ()
    date_formats: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    # (locale, label) pairs from ``label_<locale>`` settings.
    labels: tuple[tuple[str, str], ...] = ()
    # The agency code a private format belongs to; None: every agency may use it.
    agency: str | None = None

    @property
    def dialect(self) -> Dialect:
        flags = self.values.get("connected", {})
        return Dialect(
            datetime_formats=self.datetime_formats,
            date_formats=self.date_formats,
            vocabularies={name: vocab for name, vocab in self.values.items() if name != "connected"},
            decimal_comma=self.decimal == ",",
            true_words=frozenset(word for word, value in flags.items() if value == "true"),
            false_words=frozenset(word for word, value in flags.items() if value == "false"),
        )


def _fail(path: Path, message: str) -> AdapterConfigError:
    return AdapterConfigError(f"mapping file {path.name}: {message}")


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(path, f"cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise _fail(path, "must hold a table/object at the top level")
    return data


def _strings(path: Path, data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail(path, f"{name} must be a list of strings")
    return tuple(value)


def _table(path: Path, data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise _fail(path, f"[{name}] must be a table")
    return value


def load_mapping(path: Path) -> PartnerMapping:
    """Read and check one mapping file; AdapterConfigError says exactly what is wrong."""
    data = _read(path)
    unknown = sorted(name for name in set(data) - _KNOWN_KEYS if not _LABEL_KEY.fullmatch(name))
    if unknown:
        raise _fail(path, f"unknown setting(s): {', '.join(unknown)}")
    for name in ("key", "label", "kind", "file_type"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise _fail(path, f"{name} is required (a string)")
    key, kind, file_type = data["key"], data["kind"], data["file_type"]
    if not _KEY.fullmatch(key):
        raise _fail(path, f"key {key!r} must match {_KEY.pattern}")
    if kind not in KINDS:
        raise _fail(path, f"kind must be one of {', '.join(KINDS)}")
    if file_type not in ("csv", "xlsx"):
        raise _fail(path, "file_type must be csv or xlsx")
    fields = FIELDS_BY_KIND[kind]
    columns = _table(path, data, "columns")
    for header, target in columns.items():
        if target not in fields:
            raise _fail(path, f"column {header!r} maps to {target!r}, not a {kind} field ({', '.join(fields)})")
    if len(set(columns.values())) != len(columns):
        raise _fail(path, "two columns map to the same field")
    defaults = {name: str(value) for name, value in _table(path, data, "defaults").items()}
    for name in defaults:
        if name not in fields:
            raise _fail(path, f"default for {name!r}, which is not a {kind} field")
    missing = [name for name in REQUIRED_BY_KIND[kind] if name not in columns.values() and name not in defaults]
    if missing:
        raise _fail(path, f"no column or default for required field(s): {', '.join(missing)}")
    values: dict[str, dict[str, str]] = {}
    for name, vocab in _table(path, data, "values").items():
        if name not in _ENUMS or not isinstance(vocab, dict):
            raise _fail(path, f"[values.{name}]: only {', '.join(_ENUMS)} have vocabularies")
        bad = sorted({str(target) for target in vocab.values()} - set(_ENUMS[name]))
        if bad:
            raise _fail(path, f"[values.{name}] maps to unknown value(s) {', '.join(bad)}")
        values[name] = {str(word): str(target) for word, target in vocab.items()}
    encoding = data.get("encoding", "auto")
    if encoding != "auto":
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise _fail(path, f"unknown encoding {encoding!r}") from None
    title_rows = data.get("title_rows", 0)
    if not isinstance(title_rows, int) or not 0 <= title_rows <= MAX_TITLE_ROWS:
        raise _fail(path, f"title_rows must be a whole number from 0 to {MAX_TITLE_ROWS}")
    decimal = data.get("decimal", ".")
    if decimal not in (".", ","):
        raise _fail(path, 'decimal must be "." or ","')
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _fail(path, "delimiter must be one character")
    sheet = data.get("sheet", 1)
    if isinstance(sheet, bool) or not isinstance(sheet, int | str) or (isinstance(sheet, int) and sheet < 1):
        raise _fail(path, "sheet must be a sheet name or a number from 1")
    extensions = _strings(path, data, "extensions") or ((".csv", ".txt") if file_type == "csv" else (".xlsx",))
    labels = []
    for name in sorted(data):
        found = _LABEL_KEY.fullmatch(name)
        if found:
            if not isinstance(data[name], str) or not data[name].strip():
                raise _fail(path, f"{name} must be a non-empty string")
            labels.append((found.group(1), data[name].strip()))
    agency = data.get("agency")
    if agency is not None and (not isinstance(agency, str) or not _AGENCY.fullmatch(agency)):
        raise _fail(path, "agency must be an agency code (1-20 letters, digits or _)")
    return PartnerMapping(
        key=key,
        label=data["label"],
        kind=kind,
        file_type=file_type,
        columns={str(header): str(target) for header, target in columns.items()},
        source=path.name,
        description=str(data.get("description", "")),
        version=str(data.get("version", "1")),
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet - 1 if isinstance(sheet, int) else sheet,
        title_rows=title_rows,
        decimal=decimal,
        datetime_formats=_strings(path, data, "datetime_formats"),
        date_formats=_strings(path, data, "date_formats"),
        extensions=tuple(ext.lower() for ext in extensions),
        values=values,
        defaults=defaults,
        labels=tuple(labels),
        agency=agency.upper() if agency else None,
    )


_cache: dict[tuple[str, int, int], PartnerMapping] = {}


def load_mappings(directories: tuple[str, ...]) -> dict[str, PartnerMapping]:
    """Every mapping file (``*.toml``, ``*.json``) in the package's partners/ and ``directories``."""
    found: dict[str, PartnerMapping] = {}
    # The shipped directory may be absent from a wheel built without package data;
    # only directories the host names must exist.
    shipped = (str(PARTNERS_DIR),) if PARTNERS_DIR.is_dir() else ()
    for directory in (*shipped, *directories):
        root = Path(directory)
        if not root.is_dir():
            raise AdapterConfigError(f"mapping directory {directory!r} does not exist")
        for path in sorted([*root.glob("*.toml"), *root.glob("*.json")]):
            stat = path.stat()
            # Files are re-read only when they change: formats are listed on every upload.
            cache_key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
            mapping = _cache.get(cache_key) or load_mapping(path)
            _cache[cache_key] = mapping
            if mapping.key in found:
                raise AdapterConfigError(
                    f"mapping files {found[mapping.key].source} and {path.name} both use the key {mapping.key!r}"
                )
            found[mapping.key] = mapping
    return found
