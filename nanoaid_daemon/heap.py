"""Fixed glibc allocator thresholds for a process that analyses frames one after another.

Every frame makes dozens of frame-sized arrays (float copies, gradients, model inputs and
activations: 0.1–12 MiB each) and frees them before the next. glibc's defaults adapt badly to that
rhythm: its mmap threshold starts at 128 KiB and only rises after a mapped block is freed, and it
gives the heap's free top back to the kernel once it passes twice that threshold. So, depending on
the order in which the first frames happened to free their arrays, a process either reuses its
heap or has ~1,500 fresh pages faulted in and zeroed per 1024×768 frame: 8–9 ms of CPU per frame
more (measured with ``benchmarks/bench_analyzers.py``; the same run is fast or slow by chance).

:func:`steady_heap` fixes the thresholds where the adaptive rule would end up for such arrays:
blocks under 32 MiB come from the heap, and up to 64 MiB of its free top is kept for the next
frame instead of being returned and faulted in again. Larger blocks (stitched-map strips) are
still mapped and unmapped. It also undoes a ``MALLOC_TRIM_THRESHOLD_`` set in the environment (Dask's
nanny sets 64 KiB, which maps and trims every array). On another C library it does nothing.
"""
from __future__ import annotations

import logging
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "steady_heap"]

log = logging.getLogger(__name__)

MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for the adaptive threshold on 64-bit hosts
TRIM_THRESHOLD = 64 << 20  # twice the mmap threshold, as the adaptive rule keeps it
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_applied = False


def steady_heap() -> bool:
    """Set the thresholds once per process; True when glibc accepted them (now or before)."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        _applied = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # musl or another libc: its own allocator, nothing to set
        return False
    if not _applied:
        log.debug("glibc refused the allocator thresholds; frames allocate with its defaults")
    return _applied
