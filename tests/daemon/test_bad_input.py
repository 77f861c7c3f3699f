"""Bad input of every kind: a specific reason, a quarantine entry, and the daemon keeps going."""
from __future__ import annotations

import os
import struct
import zlib

from nanoaid_daemon.settle import Settled

from .helpers import processed_ids, running_daemon, tiff_bytes, wait_for


def forged_tiff(width: int, height: int) -> bytes:
    """A little-endian TIFF whose header declares width × height 8-bit pixels but holds 16 bytes."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, height), (279, 4, 0xFFFFFFFF)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", t, typ, 1, v) for t, typ, v in tags)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(16)


def png_bomb(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header declares an enormous image (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\x00" * (width + 1) * 64, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_each_kind_of_bad_file_gets_its_own_reason_and_the_daemon_keeps_going(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with running_daemon(watch, state) as daemon:
        (watch / "empty.tif").write_bytes(b"")
        (watch / "text.tif").write_text("[User]\nDate=05/01/2024\nTime=10:00:00\n")
        (watch / "random.tif").write_bytes(os.urandom(4096))
        (watch / "huge.tif").write_bytes(forged_tiff(100_000, 100_000))
        (watch / "bomb.png").write_bytes(png_bomb(60_000, 60_000))
        os.symlink("loop.tif", watch / "loop.tif")
        (watch / "good.tif").write_bytes(tiff_bytes(1))
        wait_for(lambda: len(daemon.journal.quarantine()) == 6, message="six rejections")
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="the good frame still processed")
        reasons = {os.path.basename(r.path): (r.code, r.reason) for r in daemon.journal.quarantine()}
    assert reasons["empty.tif"][0] == "empty"
    assert reasons["text.tif"][0] == "unsupported" and "text" in reasons["text.tif"][1]
    assert reasons["random.tif"][0] == "unsupported" and "not a TIFF image" in reasons["random.tif"][1]
    assert reasons["huge.tif"][0] == "too_large" and "100000×100000" in reasons["huge.tif"][1]
    assert reasons["bomb.png"][0] == "too_large"
    assert reasons["loop.tif"][0] == "symlink_loop"


def test_huge_declared_tiff_is_refused_without_allocating(tmp_path):
    import resource

    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    (watch / "huge.tif").write_bytes(forged_tiff(100_000, 100_000))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with running_daemon(watch, state) as daemon:
        wait_for(lambda: daemon.journal.quarantine(), message="rejection")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB for a 16-byte image"


def test_file_that_vanishes_between_settle_and_read_is_forgotten_quietly(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with running_daemon(watch, state, watch={"observer": "none", "reconcile_interval_s": 3600}) as daemon:
        path = watch / "brief.tif"
        path.write_bytes(tiff_bytes(2))
        st = path.stat()
        path.unlink()
        assert daemon.process_settled(Settled(path, st.st_size, st.st_mtime_ns, "event")) == "gone"
        assert daemon.journal.file(path) is None
        assert not daemon.journal.events(type="frame.rejected")
        (watch / "next.tif").write_bytes(tiff_bytes(3))
        daemon.reconcile_now()
        wait_for(lambda: len(processed_ids(daemon)) == 1)


def test_rejected_file_is_retried_when_it_changes(tmp_path):
    watch, state = tmp_path / "watch", tmp_path / "state"
    watch.mkdir()
    with running_daemon(watch, state) as daemon:
        (watch / "late.tif").write_text("not yet")
        wait_for(lambda: daemon.journal.quarantine(), message="rejection")
        (watch / "late.tif").write_bytes(tiff_bytes(4))
        wait_for(lambda: len(processed_ids(daemon)) == 1, message="reprocessed after change")
        assert daemon.journal.quarantine() == []
