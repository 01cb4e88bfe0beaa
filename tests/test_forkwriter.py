"""The hand-over from the reading process to a Maildir writer process: shared ring and pipe."""

import os

import pytest

from mboxtool import MaildirReader, MaildirWriter, MailMessage
from mboxtool.convert import forkwriter
from mboxtool.convert.forkwriter import ForkedMaildirWriter, _messages, _Ring

from .conftest import mbox_entry


def test_ring_regions_are_taken_first_in_first_out():
    ring = _Ring(100)
    assert ring.free() == (0, 100)
    ring.used.append((1, 0, 60))
    assert ring.free() == (60, 100)                # after the newest region
    ring.used.append((2, 60, 90))
    assert ring.free() == (90, 100)                # the 10 bytes left at the end
    ring.release(1)
    assert ring.free() == (0, 60)                  # before the oldest is larger than the tail
    ring.used.append((3, 0, 50))                   # wrapped: only between newest and oldest
    assert ring.free() == (50, 60)
    ring.release(3)
    assert not ring.used and ring.free() == (0, 100)


def test_batch_round_trip_through_ring_and_pipe(tmp_path):
    """Messages that fit in the ring travel there, larger ones through the pipe; the child
    reads back every message exactly, in order, with its state."""
    writer = MaildirWriter(tmp_path / "md", fsync=False).open()
    fork = ForkedMaildirWriter(writer, set())
    fork.ring = _Ring(10_000)
    rfd, fork.to_child = os.pipe()
    batch = [MailMessage(data=(b"Subject: %d\n\n" % i) + bytes([65 + i]) * size, flags=flags,
                         new=not flags, date=1_600_000_000 + i, quoted=i % 2 == 1, body_quotes=quotes)
             for i, (size, flags, quotes) in enumerate([(3000, "S", None), (20_000, "", []), (4000, "RS", [13, 70]),
                                                        (2000, "F", [14]), (5000, "", None)])]
    fork.send_batch(batch)
    os.close(fork.to_child)
    with open(rfd, "rb") as stream:
        got = list(_messages(stream, fork.ring.map()))
    assert [g[7] for g in got] == [m.data for m in batch]
    assert [(g[0], g[1], g[4], g[5], g[6]) for g in got] == [(m.flags, m.new, m.date, m.quoted, m.body_quotes)
                                                             for m in batch]
    # 3000 + 4000 + 2000 fitted (in turn); 20,000 and then 5000 did not
    assert fork.ring.used[0][1:] == (0, sum(len(batch[i].data) for i in (0, 2, 3)))
    writer.close()


@pytest.mark.parametrize("memfd", [True, False], ids=["memfd", "anonymous-mapping"])
@pytest.mark.parametrize("ring_size", [2_000, 50_000])
def test_conversion_through_a_small_ring_keeps_every_byte(tmp_path, invoke, monkeypatch, ring_size, memfd):
    """Whichever way each message travels, the Maildir holds the source's messages exactly;
    also where there is no memfd_create (the ring is then a mapping shared by the fork)."""
    monkeypatch.setattr(forkwriter, "RING_SIZE", ring_size)
    if not memfd:
        monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr("mboxtool.convert.run.BATCH_MESSAGES", 7)          # many batches, many releases
    bodies = [("line %d\n" % i) * (1 + (i * 37) % 400) + ("From here\n" if i % 5 == 0 else "")
              for i in range(60)]
    src = tmp_path / "in.mbox"
    src.write_bytes(b"".join(mbox_entry(sender=f"s{i}@example.org", body=b.replace("From here", ">From here"))
                             for i, b in enumerate(bodies)))
    result = invoke("convert", "-q", "--no-fsync", src, tmp_path / "md")
    assert result.exit_code == 0, result.stderr
    with MaildirReader(tmp_path / "md") as reader:
        got = sorted(m.data.split(b"\n\n", 1)[1] for m in reader)
    assert got == sorted(b.encode() for b in bodies)


def test_child_frees_ring_regions_it_has_read(tmp_path):
    writer = MaildirWriter(tmp_path / "md", fsync=False).open()
    fork = ForkedMaildirWriter(writer, set()).start()
    try:
        for i in range(3):
            fork.send_batch([MailMessage(data=b"Subject: %d\n\nbody\n" % i)])
        assert len(fork.ring.used) == 3
        acks = fork.acks(wait_for=3)
        assert [a["status"] for a in acks] == ["w", "w", "w"]
        assert not fork.ring.used and fork.ring.free() == (0, fork.ring.size)
    finally:
        assert fork.close() == 0
        writer.close()
    assert len(os.listdir(tmp_path / "md" / "new")) == 3


def test_a_rerun_with_nothing_new_starts_no_writer_and_leaks_no_fd(tmp_path, monkeypatch):
    """Cron over many folders: a folder with nothing new costs no fork (it cost two, 13 ms)."""
    from mboxtool import ConvertOptions, convert_mailbox
    src, md = tmp_path / "in.mbox", tmp_path / "md"
    src.write_bytes(b"".join(mbox_entry(body=f"m{i}\n") for i in range(30)))
    assert convert_mailbox(src, md, ConvertOptions()).converted == 30
    starts = []
    real_start = ForkedMaildirWriter.start
    monkeypatch.setattr(ForkedMaildirWriter, "start", lambda self, *a, **k: starts.append(1) or real_start(self, *a, **k))
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for _ in range(5):
        again = convert_mailbox(src, md, ConvertOptions())
        assert (again.converted, again.ok) == (0, True)
    assert starts == []
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) == fds
    with src.open("ab") as fh:
        fh.write(mbox_entry(body="one more\n"))
    assert convert_mailbox(src, md, ConvertOptions()).converted == 1 and starts   # new mail: writers


def test_a_parent_that_never_reads_acknowledgements_still_gets_every_batch_through(tmp_path, monkeypatch):
    """Both pipes full at once: the child blocked writing acknowledgements nobody reads, the
    parent blocked writing the next batch. The parent must take in what the child says while
    its pipe is full (_while_full), or both wait for ever. A 4 KiB pipe to the child and
    acknowledgements never asked for make that happen within a few batches; an alarm turns
    a deadlock into a failure instead of a hang."""
    import signal

    monkeypatch.setattr(forkwriter, "PIPE_SIZE", 4096)
    monkeypatch.setattr(forkwriter, "RING_SIZE", 4096)         # most bytes take the pipe too
    writer = MaildirWriter(tmp_path / "md", fsync=False).open()
    fork = ForkedMaildirWriter(writer, set()).start()

    def deadlock(*_):
        os.kill(fork.pid, signal.SIGKILL)
        raise AssertionError("parent and writer process waited on each other")
    old = signal.signal(signal.SIGALRM, deadlock)
    signal.alarm(30)
    try:
        batches = [[MailMessage(data=b"Subject: %d-%d\n\n%s\n" % (b, i, b"x" * 1500), flags="S", new=False)
                    for i in range(64)] for b in range(60)]
        numbers = [fork.send_batch(batch) for batch in batches]   # acks() is never called
        acks = fork.acks(wait_for=numbers[-1])
        while len(acks) < len(batches):
            acks += fork.acks(wait_for=numbers[-1])
        assert fork.close() == 0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert sorted(a["batch"] for a in acks) == numbers
    assert all(a["status"] == "w" * 64 for a in acks)
    writer.close()
    with MaildirReader(tmp_path / "md") as reader:
        assert len(list(reader)) == 60 * 64


def test_a_writer_that_stops_on_the_batch_still_on_its_way_names_the_cause(tmp_path, monkeypatch):
    """A full disk at the writer's first message while the parent was still sending that
    batch: the send fails (broken pipe), and the writer's answer for the batch, which names
    the cause, came after. It was dropped, so the run reported 'the writer process had
    stopped' instead of 'No space left on device'."""
    import errno

    from mboxtool.convert.sinks import ForkSink, WriterStopped

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(MaildirWriter, "deliver", full)            # the forked child inherits it
    writer = MaildirWriter(tmp_path / "md", fsync=False).open()
    # 24 MB: more than the ring and the pipe hold, so the parent is still writing when the child stops
    batch = [MailMessage(data=b"Subject: %d\n\n" % i + b"x" * (6 << 20), flags="S", new=False) for i in range(4)]
    with ForkSink(writer, set(), processes=1) as sink:
        results = sink.submit(batch)
        assert [type(r.error) for r in results] == [WriterStopped]     # the send failed
        results += sink.finish()
    writer.close()
    assert [(type(r.error), r.error.errno) for r in results] == [(OSError, errno.ENOSPC)]


def test_tiny_messages_in_flight_are_bounded_by_count_not_only_bytes(tmp_path, monkeypatch):
    """The ring and the pipe bound the bytes on their way to a writer; 100,000 tiny messages
    fit in them, and the parent held a stub for each until its batch was acknowledged (peak
    memory grew with the mailbox). The count is bounded too: the parent waits for the oldest
    batch once a writer holds more than MESSAGES_IN_FLIGHT."""
    from mboxtool.convert import sinks
    from mboxtool.convert.sinks import ForkSink
    monkeypatch.setattr(sinks, "MESSAGES_IN_FLIGHT", 64)
    writer = MaildirWriter(tmp_path / "md", fsync=False).open()
    written, most = 0, 0
    with ForkSink(writer, set(), processes=1) as sink:
        for b in range(40):
            batch = [MailMessage(data=b"Subject: %d.%d\n\nx\n" % (b, i), flags="S", new=False) for i in range(16)]
            written += sum(len(r.written) for r in sink.submit(batch))
            most = max(most, sum(len(r.batch) for r in sink.waiting.values()))
        written += sum(len(r.written) for r in sink.finish())
    writer.close()
    assert written == 40 * 16
    assert most <= 64 + 16
