"""Where convert hands its batches: written here, or by writer processes for Maildir.

Each sink digests the messages, skips what the destination already holds, writes
the rest and makes the batch durable; the converter counts a message only from
the BatchResult that comes back.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from ..model.digest import message_digest, replaces_known
from ..model.message import MailMessage

MESSAGES_IN_FLIGHT = 8192      # per writer process, not yet acknowledged (each held here as a stub)


class WriterStopped(OSError):
    """A batch a writer process never took or never answered: it had stopped (after its own
    error, reported with the batch it failed on), so this is an echo, not a cause."""


@dataclass
class BatchResult:
    batch: list[MailMessage]
    written: list[tuple[MailMessage, int]] = field(default_factory=list)
    skipped: list[tuple[MailMessage, int]] = field(default_factory=list)
    refused: list[tuple[MailMessage, str]] = field(default_factory=list)
    error: OSError | None = None


def queue_batch(writer: Any, result: BatchResult, known: set[int]) -> None:
    """Digest each message of the batch, skip what DST holds, hand the rest to the writer."""
    plans = writer.plans_by_digest
    for msg in result.batch:
        digest, parts = message_digest(msg)
        if digest in known or replaces_known(msg.data, known):
            result.skipped.append((msg, digest))
            continue
        try:
            if plans:
                writer.add(msg, writer.plan(msg, digest, parts))
            else:
                writer.add(msg)
        except ValueError as exc:                   # this one message cannot be stored in DST
            result.refused.append((msg, str(exc)))
            continue
        result.written.append((msg, digest))


def write_batch(writer: Any, batch: list[MailMessage], known: set[int]) -> BatchResult:
    """Digest each message, skip what DST holds, write the rest and make them durable."""
    result = BatchResult(batch)
    try:
        queue_batch(writer, result, known)
        writer.commit()
    except OSError as exc:
        writer.rollback()
        result.error = exc
    return result


class InlineSink:
    """Writes each batch where it is handed over."""

    def __init__(self, writer: Any, known: set[int]):
        self.writer, self.known = writer, known

    def submit(self, batch: list[MailMessage]) -> list[BatchResult]:
        return [write_batch(self.writer, batch, self.known)]

    def finish(self) -> list[BatchResult]:
        return []

    def __enter__(self) -> InlineSink:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ThreadSink:
    """Single-file destinations (mbox, MMDF, Babyl): this process digests and renders a batch
    while a thread appends the one before and makes it durable. The write and the fsync let
    go of the GIL, so the disk's time hides behind the parsing.

    One batch is in flight at a time: the file grows in batch order, and no batch is
    written after one that failed. A batch bigger than ``LAND_AT_ONCE`` (a large message)
    is written before the next is read, so memory never holds two of them.
    """

    LAND_AT_ONCE = 8 << 20

    def __init__(self, writer: Any, known: set[int]):
        self.writer, self.known = writer, known
        self.flight: tuple[threading.Thread, BatchResult] | None = None
        self.stopped = False
        self.crash: BaseException | None = None

    def submit(self, batch: list[MailMessage]) -> list[BatchResult]:
        result = BatchResult(batch)
        queue_batch(self.writer, result, self.known)
        landed = self._land()
        if self.stopped:                             # the batch before failed: this one waits for a re-run
            self.writer.rollback()
            result.error = WriterStopped(errno.EIO, "not written after the write before it failed")
            return [*landed, result]
        entries = self.writer.detach()
        thread = threading.Thread(target=self._write, args=(entries, result), name="mboxtool-append")
        thread.start()
        self.flight = (thread, result)
        if sum(msg.size if msg.size is not None else len(msg.data) for msg in batch) > self.LAND_AT_ONCE:
            landed += self._land()
        return landed

    def _write(self, entries: list, result: BatchResult) -> None:
        try:
            self.writer.write_out(entries)
        except OSError as exc:                       # the writer has cut the file back
            result.error = exc
        except BaseException as exc:                 # a bug: raised again in the converting thread
            self.crash = exc

    def _land(self) -> list[BatchResult]:
        """The result of the batch in flight, once it is durable (or failed)."""
        if self.flight is None:
            return []
        thread, result = self.flight
        thread.join()
        self.flight = None
        if self.crash is not None:
            raise self.crash
        if result.error is not None:
            self.stopped = True
        return [result]

    def finish(self) -> list[BatchResult]:
        return self._land()

    def __enter__(self) -> ThreadSink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.flight is not None:                  # interrupted: never close the file under a write
            self.flight[0].join()


def release(msg: MailMessage) -> MailMessage:
    """Let go of the bytes of ``msg`` once they are on their way to a writer process;
    accounting needs only its state, key, offset and size."""
    msg.size = len(msg.data)
    msg.data = b""
    msg.headers = msg.body_quotes = msg.body_froms = None
    return msg


def writer_processes() -> int:
    """How many writer processes a Maildir conversion uses: two where there are two cores.

    Creating, linking and unlinking files is kernel time that runs in parallel
    across processes; with two writers the reading process and the writers
    share the cores evenly instead of the reader waiting on one writer.
    """
    return 2 if (os.cpu_count() or 1) >= 2 else 1


class ForkSink:
    """Maildir deliveries made by child processes (forkwriter.py) while this one parses.

    Batches go to the writers in turn. Each writer digests, skips what the
    Maildir holds, names and writes the files; this process only reads and
    parses, and counts a batch when its writer says it is durable.
    """

    def __init__(self, writer: Any, known: set[int], processes: int | None = None):
        from .forkwriter import ForkedMaildirWriter
        self.children = [ForkedMaildirWriter(writer, known)
                         for _ in range(processes or writer_processes())]
        self.turn = 0
        self.waiting: dict[tuple[int, int], BatchResult] = {}
        self.unsent: dict[tuple[int, int], BatchResult] = {}    # failed on the way: the cause may follow
        self.started = False

    def _start(self) -> None:
        """Fork the writers when there is a first batch: a re-run with nothing new forks none."""
        self.started = True
        for i, child in enumerate(self.children):
            child.start(siblings=self.children[:i])

    def submit(self, batch: list[MailMessage]) -> list[BatchResult]:
        if not self.started:
            self._start()
        which = self.turn % len(self.children)
        self.turn += 1
        child = self.children[which]
        try:
            number = child.send_batch(batch)
        except OSError as exc:                       # the child is gone (broken pipe)
            result = BatchResult([release(m) for m in batch])
            result.error = WriterStopped(exc.errno, f"the writer process had stopped ({exc.strerror})")
            if isinstance(exc, BrokenPipeError):
                # it may have stopped on this very batch (a full disk at its first message,
                # while the rest was on its way): its answer then names the cause (_collect)
                self.unsent[which, child.batch] = result
            return [result]
        result = BatchResult([release(m) for m in batch])
        self.waiting[which, number] = result
        return self._collect(self._over_limit())

    def _over_limit(self) -> dict[int, int]:
        """For each writer with more than MESSAGES_IN_FLIGHT messages not yet acknowledged, the
        oldest batch to wait for. The ring and the pipe bound the bytes in flight; tiny messages
        need this bound on their count too, or the parent holds tens of thousands of them."""
        held: dict[int, int] = {}
        oldest: dict[int, int] = {}
        for (which, number), result in self.waiting.items():
            held[which] = held.get(which, 0) + len(result.batch)
            oldest[which] = min(number, oldest.get(which, number))
        return {which: oldest[which] for which, n in held.items() if n > MESSAGES_IN_FLIGHT}

    def _collect(self, wait: bool | dict[int, int] = False) -> list[BatchResult]:
        """Results of the batches acknowledged so far; with ``wait``, of every batch sent (True)
        or of each writer's batch up to the number given (a dict by writer)."""
        out = []
        for which, child in enumerate(self.children):
            pending = [n for (w, n) in (*self.waiting, *self.unsent) if w == which]
            if isinstance(wait, dict):
                until = wait.get(which)
            else:
                until = max(pending) if wait and pending else None
            for ack in child.acks(until):
                result = self.waiting.pop((which, ack["batch"]), None)
                if result is None:
                    unsent = self.unsent.pop((which, ack["batch"]), None)
                    if unsent is not None and ack.get("errno"):     # counted as failed already
                        unsent.error = OSError(ack["errno"], os.strerror(ack["errno"]))
                    continue
                child.writer.warnings += ack.get("warnings", ())
                if ack.get("errno"):
                    result.error = OSError(ack["errno"], os.strerror(ack["errno"]))
                else:
                    digests = ack["digests"]
                    for i, (msg, status, digest) in enumerate(zip(result.batch, ack["status"], digests,
                                                                  strict=True)):
                        if status == "s":
                            result.skipped.append((msg, digest))
                        elif status == "w":
                            result.written.append((msg, digest))
                        else:
                            result.refused.append((msg, ack["reasons"].get(str(i), "refused")))
                out.append(result)
        return out

    def finish(self) -> list[BatchResult]:
        if not self.started:
            return []
        out = self._collect(wait=True)
        statuses = [child.close() for child in self.children]
        for key in sorted(self.waiting):             # never acknowledged: not durable, not counted
            result = self.waiting.pop(key)
            result.error = WriterStopped(errno.EIO, f"the writer process ended (status {statuses[key[0]]})")
            out.append(result)
        return out

    def __enter__(self) -> ForkSink:
        return self

    def __exit__(self, *exc: object) -> None:
        for child in self.children:
            if not child.closed:
                try:
                    child.close()
                except (OSError, ChildProcessError):
                    pass
