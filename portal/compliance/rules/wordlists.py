"""Prohibited-word lists as data files, and matching that ignores spacing, punctuation, full-width forms and case."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "wordlists"
_CATEGORY = re.compile(r"[a-z][a-z0-9_]*")
_SINGLE_LETTERS = re.compile(r"(?<![^ ])(?:[a-z] ){2,}[a-z](?![^ ])")


class WordListError(ValueError):
    """A word-list file that cannot be used (bad name, not UTF-8)."""


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def compact(text: str) -> str:
    """Letters and digits only, NFKC-folded and case-folded: ``"打 断，你的腿"`` -> ``"打断你的腿"``."""
    return "".join(ch for ch in _folded(text) if unicodedata.category(ch)[0] in "LN")


def words(text: str) -> str:
    """Words separated by one space, with spaced-out letters joined: ``"K.I.L.L you!"`` -> ``" kill you "``.

    Latin-script terms are matched on whole words, so that ``sue`` never matches ``issue`` and
    ``loser`` never matches ``closer``; joining runs of single letters still catches ``k i l l``.
    """
    spaced = "".join(ch if unicodedata.category(ch)[0] in "LN" else " " for ch in _folded(text))
    joined = " ".join(spaced.split())
    joined = _SINGLE_LETTERS.sub(lambda m: m.group().replace(" ", ""), joined)
    return f" {joined} "


def _is_latin(term: str) -> bool:
    return all(ch.isascii() for ch in term)


@dataclass(frozen=True, slots=True)
class Match:
    category: str
    term: str


class WordLists:
    """Terms by category; ``find(text)`` returns every listed term the text contains, in list order.

    Files are ``<category>.<anything>.txt`` (``threats.zh.txt``): UTF-8, one term per line, ``#``
    starts a comment line, blank lines are ignored, and ``!term`` removes a term that an earlier
    directory listed (a lender's fix for a false positive). Terms with a non-Latin character are
    matched anywhere in the text's letters and digits (spaces and punctuation removed); Latin
    terms are matched as whole words.
    """

    def __init__(self, terms: Mapping[str, Iterable[str]]) -> None:
        self.terms: dict[str, tuple[str, ...]] = {name: tuple(items) for name, items in terms.items()}
        self._owner: dict[str, Match] = {}
        compact_terms: list[str] = []
        word_terms: list[str] = []
        for category, items in self.terms.items():
            for term in items:
                if _is_latin(term):
                    key = words(term).strip()
                    target = word_terms
                else:
                    key = compact(term)
                    target = compact_terms
                if key and key not in self._owner:
                    self._owner[key] = Match(category, term)
                    target.append(key)
        self._compact = _alternation(compact_terms, r"(?:{})")
        self._words = _alternation(word_terms, r"(?<= )(?:{})(?= )")

    @classmethod
    def load(cls, directories: Iterable[str | PathLike[str]] = (), *, builtin: bool = True) -> WordLists:
        """The built-in lists, then each directory in turn (adding terms, or removing them with ``!``)."""
        found: dict[str, list[str]] = {}
        roots = ([BUILTIN_DIR] if builtin else []) + [Path(d) for d in directories]
        for root in roots:
            for path in sorted(Path(root).glob("*.txt")):
                category = path.name.split(".", 1)[0]
                if not _CATEGORY.fullmatch(category):
                    raise WordListError(f"word list {path.name!r}: the name must start with a category such as threats")
                try:
                    lines = path.read_text(encoding="utf-8-sig").splitlines()
                except UnicodeDecodeError as exc:
                    raise WordListError(f"word list {path} is not UTF-8: {exc}") from exc
                terms = found.setdefault(category, [])
                for line in lines:
                    term = line.strip()
                    if not term or term.startswith("#"):
                        continue
                    if term.startswith("!"):
                        removed = compact(term[1:])
                        for items in found.values():
                            items[:] = [t for t in items if compact(t) != removed]
                    elif term not in terms:
                        terms.append(term)
        return cls(found)

    def find(self, text: str | None) -> list[Match]:
        if not text:
            return []
        keys: list[str] = []
        if self._compact is not None:
            keys.extend(m.group() for m in self._compact.finditer(compact(text)))
        if self._words is not None:
            keys.extend(m.group() for m in self._words.finditer(words(text)))
        seen: dict[str, Match] = {}
        for key in keys:
            seen.setdefault(key, self._owner[key])
        return list(seen.values())


def _alternation(keys: list[str], shape: str) -> re.Pattern[str] | None:
    if not keys:
        return None
    # Longest first, so a longer term wins over a shorter one it contains.
    ordered = sorted(set(keys), key=len, reverse=True)
    return re.compile(shape.format("|".join(re.escape(k) for k in ordered)))
