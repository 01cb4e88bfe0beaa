"""write_buffers: every byte in order, whatever the kernel takes per call."""

import os

from hypothesis import given, settings
from hypothesis import strategies as st

import mboxtool.fs.fdio as fdio


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=1200), st.randoms(use_true_random=False),
       st.booleans())
def test_write_buffers_survives_short_writes(tmp_path_factory, buffers, rnd, positioned):
    path = tmp_path_factory.mktemp("w") / "out"
    real_writev, real_pwritev = os.writev, os.pwritev

    def short_writev(fd, chunk):                      # the kernel takes a random prefix
        data = b"".join(bytes(c) for c in chunk)
        return os.write(fd, data[:rnd.randint(1, len(data))])

    def short_pwritev(fd, chunk, offset):
        data = b"".join(bytes(c) for c in chunk)
        return os.pwrite(fd, data[:rnd.randint(1, len(data))], offset)

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.writev, os.pwritev = short_writev, short_pwritev
        if positioned:
            os.pwrite(fd, b"HEAD", 0)
            fdio.write_buffers(fd, buffers, 4)
        else:
            fdio.write_buffers(fd, buffers)
    finally:
        os.writev, os.pwritev = real_writev, real_pwritev
        os.close(fd)
    assert path.read_bytes() == (b"HEAD" if positioned else b"") + b"".join(buffers)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=4000), min_size=1, max_size=2), st.randoms(use_true_random=False))
def test_maildir_message_fast_path_survives_short_writes(tmp_path_factory, buffers, rnd):
    """One or two buffers in a tuple (a Maildir message) take a shorter path; short writes too."""
    path = tmp_path_factory.mktemp("w") / "out"
    real_writev = os.writev
    calls = []

    def short_writev(fd, chunk):
        data = b"".join(bytes(c) for c in chunk)
        calls.append(len(data))
        return os.write(fd, data[:rnd.randint(min(1, len(data)), len(data))])
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.writev = short_writev
        fdio.write_buffers(fd, tuple(memoryview(b) if i else b for i, b in enumerate(buffers)))
    finally:
        os.writev = real_writev
        os.close(fd)
    assert path.read_bytes() == b"".join(buffers)
    assert calls[0] == sum(map(len, buffers))          # the first call offered everything


def test_a_full_non_blocking_pipe_calls_when_full_until_everything_is_written():
    """The parent of a writer process writes batches to a non-blocking pipe and, while it is
    full, reads what the child says (forkwriter._while_full): no two full pipes wait on each other."""
    import threading
    r, w = os.pipe()
    os.set_blocking(w, False)
    data = [os.urandom(300_000), b"tail"]
    got, calls = [], []
    reader = threading.Thread(target=lambda: got.append(b"".join(iter(lambda: os.read(r, 1 << 16), b""))))

    def when_full():
        calls.append(1)
        if len(calls) == 1:
            reader.start()                         # the other side starts reading only now
        import select
        select.select([], [w], [], 1.0)
    fdio.write_buffers(w, data, when_full=when_full)
    os.close(w)
    reader.join()
    os.close(r)
    assert calls and got == [b"".join(data)]
