"""Tamper evidence: hash chains over snapshot manifests (and the checking both chains share).

Each manifest written since chaining began records ``previous``: the sync id and the SHA-256 of
the bytes of the account's previous ``manifest.json`` (the chain's head when it committed). Each
manifest in turn pins its table files by SHA-256. So one recorded hash, the head's, vouches for
every snapshot before it: deleting a snapshot, replacing a manifest or editing a byte of a table
file breaks a link that :func:`verify_manifest_chain` names. The provisioning ledger's part
files are chained the same way (``access.ledger.verify_ledger_chain``), and both are checked
by :func:`check_links`.

A snapshot pruned by a retention policy (:meth:`~.reader.SnapshotStore.prune`) keeps its
manifest, so the chain runs through it unchanged; its table files are gone, which the
verification accepts only when a pruning record names that very manifest by its SHA-256. Files
still present are checked as ever; a record naming another manifest, or no manifest, is a break.

What a chain cannot show: that its newest links were not deleted (nothing points at the head).
Write-once storage or an anchor recorded elsewhere (the head hash a verification prints, kept in
the evidence or the ticket) covers that; see ``docs/tamper-evidence.md``.

Concurrency: the head is read just before a manifest is written, without a lock, so two writers
committing at the same moment can both link to one predecessor. That is a *fork*: reported, and
not a break, because nothing was lost (both branches verify).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .manifest import ManifestLink, format_time
from .reader import SnapshotStore

__all__ = [
    "BREAK_KINDS",
    "ChainBreak",
    "ChainFork",
    "ChainHead",
    "ChainNode",
    "ChainResult",
    "LinkCheck",
    "anchors_missing",
    "chain_predecessor",
    "check_links",
    "verify_manifest_chain",
]

BreakKind = Literal[
    "missing_predecessor",
    "predecessor_changed",
    "unchained_after_start",
    "unreadable",
    "data_changed",
    "rows_mismatch",
    "pruned_mismatch",
]

BREAK_KINDS: dict[str, str] = {
    "missing_predecessor": "a link names a file that is not there (deleted or moved)",
    "predecessor_changed": "a file's SHA-256 differs from the one its successor recorded (changed, replaced)",
    "unchained_after_start": "a file without chain metadata written after chaining began (metadata removed?)",
    "unreadable": "a file that cannot be read or parsed as what it claims to be",
    "data_changed": "a snapshot table file does not match its manifest (hash, size, rows or schema)",
    "rows_mismatch": "a ledger part holds a different number of rows than it recorded",
    "pruned_mismatch": "a pruning record names a manifest that is missing or differs (changed after pruning)",
}
"""Every kind of break, with what it means (the report and the docs use these words)."""


@dataclass(frozen=True)
class ChainBreak:
    """Evidence of tampering (or damage): something the chain cannot vouch for.

    :ivar kind: one of :data:`BREAK_KINDS`.
    :ivar file: the file concerned (URL form): the changed one, or the one whose link fails.
    :ivar message: one sentence for people.
    :ivar expected: the hash (or count) that was recorded, if the break is a mismatch.
    :ivar found: what the file has now (``None``: the file is missing or unreadable).
    """

    kind: BreakKind
    file: str
    message: str
    expected: str | None = None
    found: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "kind": self.kind,
            "file": self.file,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
        }


@dataclass(frozen=True)
class ChainFork:
    """Two or more links naming the same predecessor: writers that committed at the same moment.

    :ivar predecessor: the shared predecessor's name (sync id or part name); ``None`` when the
        branches each started the chain.
    :ivar successors: the names of the links that share it.
    """

    predecessor: str | None
    successors: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"predecessor": self.predecessor, "successors": list(self.successors)}


@dataclass(frozen=True)
class ChainHead:
    """A link no other link names: the newest of its branch. Record its hash as an anchor.

    :ivar name: sync id or part name.
    :ivar file: the file (URL form).
    :ivar sha256: its hex SHA-256.
    """

    name: str
    file: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"name": self.name, "file": self.file, "sha256": self.sha256}


@dataclass(frozen=True)
class ChainNode:
    """One file of a chain, as :func:`check_links` needs it.

    :ivar name: what links use to name it (a sync id, a part file name).
    :ivar file: the file, URL form, for messages.
    :ivar sha256: hex SHA-256 of its bytes.
    :ivar order: sorts the files in the order they were written (to tell what came before
        chaining began).
    :ivar readable: false when the file could not be parsed; its hash still checks its successor's
        link, but it counts neither as chained nor as unchained.
    :ivar chained: whether it carries chain metadata.
    :ivar previous_name: the predecessor it names; ``None`` for the first link (or when unchained).
    :ivar previous_sha256: the predecessor's hash it recorded.
    """

    name: str
    file: str
    sha256: str
    order: tuple[str, ...]
    readable: bool = True
    chained: bool = False
    previous_name: str | None = None
    previous_sha256: str | None = None


@dataclass(frozen=True)
class ChainResult:
    """What a chain verification found. ``intact`` when there is no break; forks are not breaks.

    :ivar chain: ``"snapshots"`` or ``"ledger"``.
    :ivar location: the store root or ledger path checked.
    :ivar account_id: the account, for a snapshot chain.
    :ivar files: files examined (manifests, or ledger parts).
    :ivar chained: how many of them carry chain metadata.
    :ivar unchained_before_start: names of files written before chaining began (not a break).
    :ivar links_checked: links whose predecessor was found with the recorded hash.
    :ivar data_files_checked: snapshot table files checked against their manifests (0 for a ledger).
    :ivar rows: rows in the ledger parts (0 for snapshots).
    :ivar breaks: every break, in file order.
    :ivar forks: every fork.
    :ivar heads: the newest link of each branch, oldest first; the last is the chain's head.
    :ivar hashes: the SHA-256 of every file examined (to check an anchor recorded earlier).
    :ivar pruned: sync ids of the snapshots pruned by a retention policy whose pruning record
        matches their manifest (their table files are deleted on purpose; not a break).
    """

    chain: Literal["snapshots", "ledger"]
    location: str
    account_id: str | None
    files: int
    chained: int
    unchained_before_start: tuple[str, ...]
    links_checked: int
    data_files_checked: int
    rows: int
    breaks: tuple[ChainBreak, ...]
    forks: tuple[ChainFork, ...]
    heads: tuple[ChainHead, ...]
    hashes: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    pruned: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        """No break was found."""
        return not self.breaks

    @property
    def head(self) -> ChainHead | None:
        """The newest head (the one to record as an anchor), or ``None`` for an empty chain."""
        return self.heads[-1] if self.heads else None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (what ``verify_chain --json`` prints, per chain)."""
        return {
            "chain": self.chain,
            "location": self.location,
            "account_id": self.account_id,
            "intact": self.intact,
            "files": self.files,
            "chained": self.chained,
            "unchained_before_start": list(self.unchained_before_start),
            "links_checked": self.links_checked,
            "data_files_checked": self.data_files_checked,
            "rows": self.rows,
            "head": self.head.to_dict() if self.head else None,
            "heads": [head.to_dict() for head in self.heads],
            "forks": [fork.to_dict() for fork in self.forks],
            "breaks": [b.to_dict() for b in self.breaks],
            "pruned": list(self.pruned),
        }


@dataclass(frozen=True)
class LinkCheck:
    """What :func:`check_links` derives from the nodes of one chain."""

    breaks: tuple[ChainBreak, ...]
    forks: tuple[ChainFork, ...]
    heads: tuple[ChainHead, ...]
    links_checked: int
    chained: int
    unchained_before_start: tuple[str, ...]


def check_links(nodes: Sequence[ChainNode], what: str) -> LinkCheck:
    """Check the links between ``nodes``: the rules both chains share.

    - A link whose predecessor is missing is a break (``missing_predecessor``); one whose
      predecessor's hash differs from the recorded one is a break (``predecessor_changed``).
    - A file without chain metadata is fine when written before the first chained file (by
      ``order``), and a break (``unchained_after_start``) after it.
    - Two links naming one predecessor are a fork, not a break.

    :param nodes: every file of the chain.
    :param what: what a file is, for messages (``"snapshot"``, ``"part"``).
    """
    by_name = {node.name: node for node in nodes}
    chained = [node for node in nodes if node.readable and node.chained]
    start = min((node.order for node in chained), default=None)
    first = min(chained, key=lambda node: node.order).name if chained else None
    breaks: list[ChainBreak] = []
    before: list[str] = []
    for node in sorted(nodes, key=lambda n: n.order):
        if not node.readable or node.chained:
            continue
        if start is not None and node.order > start:
            breaks.append(
                ChainBreak(
                    "unchained_after_start",
                    node.file,
                    f"{what} {node.name} has no chain metadata but was written after chaining began "
                    f"(with {what} {first}): its metadata was removed, or it was written by hand",
                )
            )
        else:
            before.append(node.name)
    links = 0
    children: dict[str | None, list[str]] = defaultdict(list)
    for node in sorted(chained, key=lambda n: n.order):
        children[node.previous_name].append(node.name)
        if node.previous_name is None:
            continue
        previous = by_name.get(node.previous_name)
        if previous is None:
            breaks.append(
                ChainBreak(
                    "missing_predecessor",
                    node.file,
                    f"{what} {node.name} links to {what} {node.previous_name}, which is missing "
                    "(deleted or moved)",
                    expected=node.previous_sha256,
                    found=None,
                )
            )
        elif previous.sha256 != node.previous_sha256:
            breaks.append(
                ChainBreak(
                    "predecessor_changed",
                    previous.file,
                    f"{what} {previous.name} was changed or replaced after {what} {node.name} "
                    "recorded its hash",
                    expected=node.previous_sha256,
                    found=previous.sha256,
                )
            )
        else:
            links += 1
    forks = tuple(
        ChainFork(predecessor, tuple(successors))
        for predecessor, successors in children.items()
        if len(successors) > 1
    )
    named = {node.previous_name for node in chained}
    heads = tuple(
        ChainHead(node.name, node.file, node.sha256)
        for node in sorted(chained, key=lambda n: n.order)
        if node.name not in named
    )
    return LinkCheck(tuple(breaks), forks, heads, links, len(chained), tuple(before))


def _order(finished_at: Any, sync_id: str) -> tuple[str, ...]:
    return (format_time(finished_at), sync_id)


def chain_predecessor(
    store: SnapshotStore, account_id: str, *, exclude: str | None = None
) -> ManifestLink | None:
    """The link a new manifest of ``account_id`` records: the current head of the chain.

    The head is the newest chained manifest that no other names (the newest by ``finished_at``
    when a fork left several). Before chaining began it is the newest complete manifest, so the
    first chained manifest pins the last unchained one. ``None`` for an account's first snapshot.

    :param store: the snapshot store.
    :param account_id: the account.
    :param exclude: a sync id to leave out (the snapshot being committed).
    """
    valid = [
        f
        for f in store.manifest_files(account_id)
        if f.manifest is not None and f.sha256 is not None and f.sync_id != exclude
    ]
    pool = [f for f in valid if f.manifest is not None and f.manifest.chained]
    if pool:
        named = {f.manifest.previous.sync_id for f in pool if f.manifest and f.manifest.previous}
        pool = [f for f in pool if f.sync_id not in named] or pool
    else:
        pool = valid
    if not pool:
        return None
    head = max(pool, key=lambda f: _order(f.manifest.finished_at, f.sync_id) if f.manifest else ("", ""))
    assert head.sha256 is not None
    return ManifestLink(sync_id=head.sync_id, manifest_sha256=head.sha256)


def verify_manifest_chain(store: SnapshotStore, account_id: str) -> ChainResult:
    """Verify the manifest chain of ``account_id`` and every snapshot's table files.

    Checks every ``manifest.json`` under the account: that it parses, that the predecessor each
    one names exists with the recorded hash, that no manifest written after chaining began lacks
    the chain field, and that each snapshot's table files match their manifest (SHA-256, size,
    rows, schema). Manifests written before chaining began are listed as such, not as breaks.
    The table files of a pruned snapshot may be missing when its pruning record names its
    manifest's SHA-256 (listed in ``pruned``); a pruning record that does not is a break.

    :param store: the snapshot store.
    :param account_id: the account whose chain to verify.
    :returns: the typed result; ``result.intact`` is false on any break.
    """
    files = store.manifest_files(account_id)
    records = store.pruned(account_id)
    nodes: list[ChainNode] = []
    breaks: list[ChainBreak] = []
    pruned: list[str] = []
    data_files = 0
    by_sync_id = {f.sync_id: f for f in files}
    for sync_id, record in sorted(records.items()):
        found = by_sync_id.get(sync_id)
        if found is None or found.sha256 != record.manifest_sha256:
            breaks.append(
                ChainBreak(
                    "pruned_mismatch",
                    record.path,
                    f"pruning record of snapshot {sync_id} names a manifest with sha256 "
                    f"{record.manifest_sha256}, but "
                    + ("no manifest is there" if found is None else "the manifest there differs"),
                    expected=record.manifest_sha256,
                    found=found.sha256 if found else None,
                )
            )
    for f in files:
        if f.manifest is None or f.sha256 is None:
            breaks.append(ChainBreak("unreadable", f.path, f"manifest of snapshot {f.sync_id}: {f.problem}"))
            if f.sha256 is not None:
                nodes.append(ChainNode(f.sync_id, f.path, f.sha256, (f.sync_id,), readable=False))
            continue
        manifest = f.manifest
        nodes.append(
            ChainNode(
                name=f.sync_id,
                file=f.path,
                sha256=f.sha256,
                order=_order(manifest.finished_at, f.sync_id),
                chained=manifest.chained,
                previous_name=manifest.previous.sync_id if manifest.previous else None,
                previous_sha256=manifest.previous.manifest_sha256 if manifest.previous else None,
            )
        )
        data_files += len(manifest.tables)
        prune = records.get(f.sync_id)
        deleted_on_purpose = prune is not None and prune.manifest_sha256 == f.sha256
        if deleted_on_purpose:
            pruned.append(f.sync_id)
        for problem in store.verify_files(manifest):
            if deleted_on_purpose and problem.missing:
                continue
            breaks.append(
                ChainBreak(
                    "data_changed",
                    problem.file,
                    f"snapshot {f.sync_id}: {problem.message}",
                    expected=problem.expected,
                    found=problem.found,
                )
            )
    links = check_links(nodes, "snapshot")
    return ChainResult(
        chain="snapshots",
        location=store.path,
        account_id=account_id,
        files=len(files),
        chained=links.chained,
        unchained_before_start=links.unchained_before_start,
        links_checked=links.links_checked,
        data_files_checked=data_files,
        rows=0,
        breaks=(*breaks, *links.breaks),
        forks=links.forks,
        heads=links.heads,
        hashes=frozenset(f.sha256 for f in files if f.sha256),
        pruned=tuple(pruned),
    )


def anchors_missing(results: Iterable[ChainResult], anchors: Iterable[str]) -> list[str]:
    """The recorded head hashes found in none of ``results`` (their newest links were removed).

    :param results: chain verifications.
    :param anchors: hashes recorded earlier (from a previous verification's heads).
    """
    seen: set[str] = set()
    for result in results:
        seen |= result.hashes
    return [anchor for anchor in anchors if anchor not in seen]
