"""Checking the stored audit trail (``flask audit verify``) and proving inclusion and consistency from it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from portal.audit.canonical import canonical_bytes
from portal.audit.checkpoints import checkpoint_of_size, latest_checkpoint, tree_size
from portal.audit.merkle import EMPTY_ROOT, TreeBuilder, consistency_proof_from, inclusion_proof_from
from portal.audit.models import AuditCheckpoint, AuditEvent, leaf_object
from portal.audit.subtrees import subtrees
from portal.audit.verify import checkpoint_problem
from portal.audit.witness import WitnessSettings, read_witnessed
from portal.extensions import db

# Rows fetched per round trip when streaming the trail.
_CHUNK = 20_000
# Problems listed in a report (all are counted).
_MAX_PROBLEMS = 100

# The canonical text of every event, rebuilt by PostgreSQL from the columns by concatenation.
# It is exact because the keys of the leaf object are fixed and JCS sorts them in this order,
# to_json() escapes a string exactly as RFC 8785 does (\b \f \n \r \t \" \\ and \u00xx for other
# control characters, everything else literal), integers print alike, and ``details`` is stored
# as its own RFC 8785 text (models.CanonicalJSON). One text equality per row then ties the
# columns (what pages, queries and exports read) to the bytes that were hashed.
_PG_REBUILT = """'{"action":' || to_json(action)::text
 || ',"actor_role":' || coalesce(to_json(actor_role)::text, 'null')
 || ',"actor_user_id":' || coalesce(actor_user_id::text, 'null')
 || ',"agency_id":' || coalesce(agency_id::text, 'null')
 || ',"details":' || details::text
 || ',"ip":' || coalesce(to_json(ip)::text, 'null')
 || ',"object_id":' || coalesce(to_json(object_id)::text, 'null')
 || ',"object_type":' || coalesce(to_json(object_type)::text, 'null')
 || ',"occurred_at":"' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
 || '","outcome":' || to_json(outcome)::text
 || ',"seq":' || seq::text
 || ',"source":' || to_json(source)::text
 || ',"user_agent":' || coalesce(to_json(user_agent)::text, 'null') || '}'"""
_PG_COLUMN_MISMATCHES = text(
    f"SELECT count(*), min(seq) FROM audit_events WHERE seq <= :last AND canonical <> ({_PG_REBUILT})"  # noqa: S608
)
_PG_COLUMN_MISMATCH_LIST = text(
    f"SELECT seq FROM audit_events WHERE seq <= :last AND canonical <> ({_PG_REBUILT}) ORDER BY seq LIMIT :limit"  # noqa: S608
)
_LEAVES = "SELECT seq, canonical, leaf_hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"


@dataclass
class Problem:
    seq: int | None
    check: str
    reason: str


@dataclass
class Signed:
    """A signed tree head to compare the rebuilt tree with: a stored checkpoint or a witnessed one."""

    tree_size: int
    root_hash: str
    source: str = "database"


@dataclass
class TrailReport:
    """What ``verify_trail`` found; ``as_dict()`` is the contract's ``{"ok", "events", "first_bad_seq", "root"}``
    with ``unproven_events`` and ``witnessed_tree_size``."""

    events: int = 0
    root: str = EMPTY_ROOT.hex()
    checkpoints: int = 0
    full: bool = False
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    # The newest checkpoint found outside the database (a write-once file or the witness URL), if any.
    witnessed_tree_size: int | None = None
    witnessed_checkpoints: int = 0
    # Witnesses that did not answer (not a failure: their copies still exist).
    witness_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def add(self, seq: int | None, check: str, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(Problem(seq, check, reason))

    @property
    def unproven_events(self) -> int:
        """Events after the newest witnessed checkpoint: someone who can rewrite the database can still
        remove or change them without verify noticing."""
        return max(self.events - (self.witnessed_tree_size or 0), 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_bad_seq": self.first_bad_seq,
            "root": self.root,
            "unproven_events": self.unproven_events,
            "witnessed_tree_size": self.witnessed_tree_size,
        }

    def describe(self) -> list[str]:
        """Human-readable lines, first problem first."""
        lines = [
            f"events: {self.events}",
            f"root: {self.root}",
            f"checkpoints checked: {self.checkpoints}",
            f"witnessed tree size: {self.witnessed_tree_size if self.witnessed_tree_size is not None else 'none'}",
            f"unproven events (after the newest witnessed checkpoint): {self.unproven_events}",
        ]
        lines += [f"note: {note}" for note in self.witness_notes]
        ordered = sorted(self.problems, key=lambda p: (p.seq is None, p.seq or 0))
        lines += [f"{'seq ' + str(p.seq) if p.seq else 'trail'}: {p.check}: {p.reason}" for p in ordered]
        lines.append("intact" if self.ok else f"NOT INTACT: {self.problem_count} problem(s)")
        return lines


# A chunk of the leaf pass: (seq, recomputed leaf hash, stored leaf hash in hex) per event.
Chunk = list[tuple[int, bytes, str]]


def _leaf_chunks(session: Session, last: int) -> Iterator[Chunk]:
    """Stream the stored canonical texts in seq order and hash them with hashlib.

    The driver's own cursor and keyset chunks on the primary key: SQLAlchemy's row objects
    would cost as much as the hashing.
    """
    connection = session.connection()
    sql = _LEAVES if connection.dialect.paramstyle == "qmark" else _LEAVES.replace("?", "%s")
    cursor = connection.connection.cursor()
    sha256 = hashlib.sha256
    try:
        after = 0
        while after < last:
            cursor.execute(sql, (after, last, _CHUNK))
            rows = cursor.fetchall()
            if not rows:
                return
            yield [
                (seq, sha256(b"\x00" + canonical.encode("utf-8")).digest(), stored) for seq, canonical, stored in rows
            ]
            after = rows[-1][0]
    finally:
        cursor.close()


class _TreeCheck:
    """Rebuilds the tree from verified leaves in seq order and compares it with every checkpoint."""

    def __init__(self, report: TrailReport, checkpoints: list[Signed]) -> None:
        self.report = report
        self.builder = TreeBuilder()
        self.pending = sorted((cp for cp in checkpoints if cp.tree_size > 0), key=lambda cp: cp.tree_size)
        self.pending.reverse()  # pop() gives the smallest
        self.expected = 1
        # (largest size proven so far, checkpoint size) for each checkpoint whose root differed;
        # which seq to blame is decided once every row-level problem is known.
        self.mismatches: list[tuple[int, Signed]] = []
        self.proven = 0
        for cp in checkpoints:
            if cp.tree_size == 0:
                self._compare(cp)

    def _compare(self, cp: Signed) -> None:
        if cp.source == "database":
            self.report.checkpoints += 1
        else:
            self.report.witnessed_checkpoints += 1
        if self.builder.root().hex() == cp.root_hash:
            self.proven = max(self.proven, cp.tree_size)
        else:
            self.mismatches.append((self.proven, cp))

    def _rows(self, chunk: Chunk) -> None:
        """Per-row checks, only for a chunk whose fast checks failed."""
        for seq, leaf, stored in chunk:
            if seq != self.expected:
                missing = (
                    f"seq {self.expected} is" if seq == self.expected + 1 else f"seqs {self.expected}..{seq - 1} are"
                )
                self.report.add(self.expected, "sequence", f"{missing} missing (deleted or renumbered)")
                self.expected = seq
            if leaf.hex() != stored:
                self.report.add(seq, "leaf_hash", "the stored leaf hash is not SHA-256(0x00 || canonical bytes)")
            self.expected += 1

    def add(self, chunk: Chunk) -> None:
        first, last = chunk[0][0], chunk[-1][0]
        leaves = [leaf for _seq, leaf, _stored in chunk]
        contiguous = first == self.expected and last - first == len(chunk) - 1
        if contiguous and b"".join(leaves).hex() == "".join(stored for _s, _l, stored in chunk):
            self.expected = last + 1
        else:
            self._rows(chunk)
        # The tree takes the leaves in stored order; a checkpoint size falling inside the chunk splits it.
        at = 0
        while self.pending and self.pending[-1].tree_size <= self.builder.size + len(leaves) - at:
            cp = self.pending.pop()
            take = cp.tree_size - self.builder.size
            self.builder.extend(leaves[at : at + take])
            at += take
            self._compare(cp)
        self.builder.extend(leaves[at:])

    def finish(self) -> None:
        report, size = self.report, self.builder.size
        report.events, report.root = size, self.builder.root().hex()
        for cp in reversed(self.pending):
            signer = "a checkpoint" if cp.source == "database" else f"a witnessed checkpoint ({cp.source})"
            report.add(size + 1, "checkpoint", f"{signer} signed {cp.tree_size} events, only {size} are stored")

    def blame(self) -> None:
        """Name a seq for each checkpoint whose root differs, unless a row-level problem explains it."""
        for proven, cp in self.mismatches:
            size = cp.tree_size
            explained = any(p.seq is not None and proven < p.seq <= size for p in self.report.problems)
            signer = "the signed checkpoint's" if cp.source == "database" else f"the witnessed one's ({cp.source})"
            reason = f"the root of the first {size} events differs from {signer}"
            # Seqs 1..proven are proven by an earlier checkpoint: the change lies in proven+1..size.
            self.report.add(None if explained else proven + 1, "checkpoint", reason)


def leaf_objects(session: Session, query=None) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(row, leaf object rebuilt from the columns) for the events of ``query`` (default: all), in seq order."""
    query = query if query is not None else select(AuditEvent.__table__).order_by(AuditEvent.seq)
    for row in session.execute(query.execution_options(yield_per=_CHUNK)):
        yield row, leaf_object(row)


def _check_columns_in_python(session: Session, report: TrailReport, last: int, full: bool) -> None:
    query = select(AuditEvent.__table__).where(AuditEvent.seq <= last).order_by(AuditEvent.seq)
    for row, obj in leaf_objects(session, query):
        try:
            stored = json.loads(row.canonical)
        except ValueError:
            report.add(row.seq, "columns", "the canonical text is not JSON")
            continue
        if stored != obj:
            changed = sorted(k for k in obj.keys() | stored.keys() if obj.get(k) != stored.get(k))
            report.add(row.seq, "columns", f"columns differ from the signed event: {', '.join(changed)}")
        elif full and canonical_bytes(obj) != row.canonical.encode("utf-8"):
            report.add(row.seq, "columns", "the canonical text is not the RFC 8785 form of the event")


def _pg_column_mismatches(engine: Engine, last: int) -> list[int]:
    """Seqs (the first 100) whose columns no longer rebuild their canonical text; runs on its own connection."""
    with engine.connect() as connection:
        count, _first = connection.execute(_PG_COLUMN_MISMATCHES, {"last": last}).one()
        if not count:
            return []
        return list(connection.execute(_PG_COLUMN_MISMATCH_LIST, {"last": last, "limit": _MAX_PROBLEMS}).scalars())


def verify_trail(
    *,
    full: bool = False,
    session: Session | None = None,
    witness: WitnessSettings | None = None,
    current_key_id: str | None = None,
) -> TrailReport:
    """Recompute every leaf and the root, check every stored checkpoint, and name the first bad seq.

    Checks, per event: seqs run 1..N without gaps; the stored leaf hash is SHA-256 of 0x00 and
    the stored canonical bytes; the columns still say what the canonical bytes say (which also
    catches an event moved to another seq). Per checkpoint: its signature, and that the tree
    rebuilt from the stored events has its root at its size.

    With ``witness``, the checkpoints kept outside the database (every write-once file, and the
    witness URL's newest) are checked the same way: their signature, by a key the portal signed
    with (``current_key_id`` or a stored checkpoint's), and the rebuilt tree's root at their size.
    A tail deleted or rewritten below the newest witnessed size then fails even when the stored
    checkpoints were removed too; ``unproven_events`` counts the events after it.

    Leaves are always hashed here, with hashlib, from the stored canonical bytes. The columns
    are compared by PostgreSQL, concurrently, with one text equality per event (see _PG_REBUILT);
    on SQLite, or with ``full``, by parsing the canonical JSON here. ``full`` also re-serialises
    every event with RFC 8785 from its columns and compares bytes (slow: JCS costs about 20 times
    the hashing; otherwise the canonical bytes are trusted to be canonical, which the
    checkpoints' roots back up, and the offline verifier re-serialises every exported event).
    """
    session = session or db.session()
    report = TrailReport(full=full)
    checkpoints = list(session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)).scalars())
    for cp in checkpoints:
        problem = checkpoint_problem(cp.as_checkpoint())
        if problem:
            report.add(None, "checkpoint", f"checkpoint of {cp.tree_size} events: {problem}")
    heads = [Signed(cp.tree_size, cp.root_hash) for cp in checkpoints]
    if witness is not None:
        heads += _witnessed_heads(report, witness, checkpoints, current_key_id)
    last = tree_size(session)
    tree = _TreeCheck(report, heads)
    bind = session.get_bind()
    if not full and bind.dialect.name == "postgresql" and isinstance(bind, Engine):
        # The database compares the columns while this process hashes: both read every row.
        with ThreadPoolExecutor(max_workers=1) as pool:
            columns = pool.submit(_pg_column_mismatches, bind, last)
            for chunk in _leaf_chunks(session, last):
                tree.add(chunk)
            for seq in columns.result():
                report.add(seq, "columns", "columns differ from the signed event")
    else:
        for chunk in _leaf_chunks(session, last):
            tree.add(chunk)
        _check_columns_in_python(session, report, last, full)
    tree.finish()
    tree.blame()
    return report


def _witnessed_heads(
    report: TrailReport, witness: WitnessSettings, checkpoints: list[AuditCheckpoint], current_key_id: str | None
) -> list[Signed]:
    """The witnessed checkpoints worth comparing: those that do not say exactly what a stored one says."""
    stored = {cp.tree_size: cp.as_checkpoint() for cp in checkpoints}
    trusted = {cp.key_id for cp in checkpoints} | ({current_key_id} if current_key_id else set())
    witnessed = read_witnessed(witness, trusted_key_ids=trusted, stored=stored)
    for where, why in witnessed.invalid:
        report.add(None, "witness", f"{where}: {why}")
    report.witness_notes += witnessed.unreachable
    report.witnessed_tree_size = witnessed.newest_size
    heads = []
    for cp in witnessed.checkpoints:
        source = cp.pop("source")
        if stored.get(cp["tree_size"]) != cp:
            heads.append(Signed(cp["tree_size"], cp["root_hash"], source))
    return heads


# --------------------------------------------------------------------------- proofs from the database


def leaf_source(session: Session | None = None) -> Callable[[int, int], list[bytes]]:
    """A merkle.LeafSource reading stored leaf hashes: ``get(start, end)`` gives seqs start+1..end."""
    session = session or db.session()

    def get(start: int, end: int) -> list[bytes]:
        rows = session.execute(
            select(AuditEvent.leaf_hash).where(AuditEvent.seq > start, AuditEvent.seq <= end).order_by(AuditEvent.seq)
        ).scalars()
        return [bytes.fromhex(h) for h in rows]

    return get


def default_tree_size(session: Session | None = None) -> int:
    """Proofs default to the latest signed checkpoint, so that their root is one the portal signed."""
    latest = latest_checkpoint(session)
    return latest.tree_size if latest is not None else tree_size(session)


def inclusion(seq: int, size: int, session: Session | None = None) -> dict[str, Any]:
    """RFC 9162 inclusion proof of event ``seq`` in the tree of ``size`` events (leaf index = seq - 1)."""
    session = session or db.session()
    with subtrees(session, size) as mth:
        path = inclusion_proof_from(mth, seq - 1, size)
        root = mth(0, size)
        leaf = mth(seq - 1, seq)
    checkpoint = checkpoint_of_size(size, session)
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "tree_size": size,
        "leaf_hash": leaf.hex(),
        "inclusion_path": [h.hex() for h in path],
        "root_hash": root.hex(),
        "checkpoint": checkpoint.as_checkpoint() if checkpoint else None,
    }


def consistency(first: int, second: int, session: Session | None = None) -> dict[str, Any]:
    """RFC 9162 consistency proof that the tree of ``second`` events extends the tree of ``first``."""
    session = session or db.session()
    with subtrees(session, second) as mth:
        path = consistency_proof_from(mth, first, second)
        roots = mth(0, first), mth(0, second)
    checkpoints = {size: checkpoint_of_size(size, session) for size in (first, second)}
    return {
        "tree_size_1": first,
        "tree_size_2": second,
        "first_hash": roots[0].hex(),
        "second_hash": roots[1].hex(),
        "consistency_path": [h.hex() for h in path],
        "checkpoint_1": checkpoints[first].as_checkpoint() if checkpoints[first] else None,
        "checkpoint_2": checkpoints[second].as_checkpoint() if checkpoints[second] else None,
    }


def check_event(seq: int, session: Session | None = None) -> dict[str, Any]:
    """One event's own checks, for its page: leaf hash, columns, and its proof against a signed checkpoint."""
    from portal.audit.checkpoints import covering_checkpoint
    from portal.audit.merkle import verify_inclusion

    session = session or db.session()
    row = session.execute(select(AuditEvent.__table__).where(AuditEvent.seq == seq)).one()
    data = row.canonical.encode("utf-8")
    result: dict[str, Any] = {
        "leaf_ok": hashlib.sha256(b"\x00" + data).hexdigest() == row.leaf_hash,
        "columns_ok": _same_json(row.canonical, leaf_object(row)),
        "checkpoint": None,
        "proof": None,
        "proof_ok": None,
    }
    checkpoint = covering_checkpoint(seq, session)
    if checkpoint is not None:
        proof = inclusion(seq, checkpoint.tree_size, session)
        path = [bytes.fromhex(h) for h in proof["inclusion_path"]]
        leaf = bytes.fromhex(row.leaf_hash)
        root = bytes.fromhex(checkpoint.root_hash)
        result.update(
            checkpoint=checkpoint.as_checkpoint(),
            proof=proof,
            proof_ok=verify_inclusion(leaf, seq - 1, checkpoint.tree_size, path, root),
        )
    return result


def _same_json(text: str, obj: dict[str, Any]) -> bool:
    try:
        return json.loads(text) == obj
    except ValueError:
        return False
