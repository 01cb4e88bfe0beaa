"""ThreadSink: the appending thread of single-file destinations, with a writer that records."""

import errno
import threading
import time

import pytest

from mboxtool import MailMessage
from mboxtool.convert.sinks import ThreadSink, WriterStopped


class RecordingWriter:
    """add/detach/write_out/rollback as MboxWriter has them; remembers what reached the 'file'."""

    format = "mbox"
    plans_by_digest = False

    def __init__(self, fail_on=None, error=None):
        self.pending, self.file, self.calls = [], [], 0
        self.fail_on, self.error = fail_on, error
        self.busy = False
        self.overlapped = False

    def add(self, msg):
        self.pending.append(msg.data)

    def detach(self):
        pending, self.pending = self.pending, []
        return pending

    def rollback(self):
        self.pending = []

    def write_out(self, entries):
        self.overlapped |= self.busy
        self.busy = True
        try:
            self.calls += 1
            time.sleep(0.01)                       # long enough for the next batch to be queued meanwhile
            if self.calls == self.fail_on:
                raise self.error
            self.file += entries
        finally:
            self.busy = False


def batches(n, per=3):
    return [[MailMessage(b"Subject: %d.%d\n\nbody\n" % (b, i)) for i in range(per)] for b in range(n)]


def run(writer, all_batches):
    results = []
    with ThreadSink(writer, set()) as sink:
        for batch in all_batches:
            results += sink.submit(batch)
        results += sink.finish()
    return results


def test_batches_reach_the_file_in_order_one_at_a_time():
    writer = RecordingWriter()
    given = batches(6)
    results = run(writer, given)
    assert writer.file == [m.data for batch in given for m in batch]
    assert not writer.overlapped
    assert [r.batch for r in results] == given and all(r.error is None for r in results)
    assert [len(r.written) for r in results] == [3] * 6


def test_nothing_is_written_after_a_failed_append():
    writer = RecordingWriter(fail_on=2, error=OSError(errno.ENOSPC, "No space left on device"))
    given = batches(5)
    results = run(writer, given)
    assert writer.file == [m.data for m in given[0]]               # the first batch only
    assert writer.calls == 2                                      # nothing tried after the failure
    errors = [r.error for r in results]
    assert errors[0] is None and errors[1].errno == errno.ENOSPC
    assert all(isinstance(e, WriterStopped) for e in errors[2:])
    assert [r.batch for r in results] == given                    # each batch answered once


def test_a_bug_in_the_appending_thread_is_raised_in_the_caller():
    writer = RecordingWriter(fail_on=1, error=ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        run(writer, batches(3))
    assert not [t for t in threading.enumerate() if t.name == "mboxtool-append"]
