"""Progress a person can follow: a bar with rate and ETA on a terminal, log lines otherwise.

Overnight runs are usually redirected to a file or a journal, where a redrawn bar is noise, so
off a terminal one plain line is written every ``interval_s`` seconds instead.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]

_BAR = 28
_REDRAW_S = 0.2
_WINDOW_S = 60.0


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, *, stream: TextIO, tty: bool | None = None, interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.interval_s = interval_s
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._last_draw = float("-inf")
        self._drawn = False
        self.done = 0

    def rate(self) -> float | None:
        """Frames per second over the last minute (None until there is something to measure)."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None

    def update(self, done: int, extra: str = "", *, force: bool = False) -> None:
        now = self._clock()
        self.done = done
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > _WINDOW_S:
            self._samples.popleft()
        wait = _REDRAW_S if self.tty else self.interval_s
        if force or now - self._last_draw >= wait:
            self._last_draw = now
            self._draw(extra)

    def line(self, extra: str = "") -> str:
        rate = self.rate()
        remaining = max(0, self.total - self.done)
        eta = remaining / rate if rate else (0.0 if not remaining else None)
        pct = 100.0 * self.done / self.total if self.total else 100.0
        rate_text = f"{rate:.1f} frames/s" if rate else "-- frames/s"
        text = f"{self.done}/{self.total} ({pct:.1f}%)  {rate_text}  ETA {_eta(eta)}"
        return f"{text}  {extra}".rstrip()

    def _draw(self, extra: str) -> None:
        if self.tty:
            filled = int(_BAR * self.done / self.total) if self.total else _BAR
            bar = "#" * filled + "." * (_BAR - filled)
            self.stream.write(f"\r[{bar}] {self.line(extra)}\x1b[K")
            self._drawn = True
        else:
            self.stream.write(f"batch: {self.line(extra)}\n")
        self.stream.flush()

    def close(self, extra: str = "") -> None:
        self.update(self.done, extra, force=True)
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
