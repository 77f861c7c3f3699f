"""Preloaded into the worker processes of the local Dask cluster that ``nanoaid batch --workers`` starts.

A terminal's Ctrl-C reaches every process of the foreground group; the driver alone decides what
happens then (it stops the cluster), so its workers ignore it instead of dying mid-frame with a
traceback each.
"""
from __future__ import annotations

import signal


def dask_setup(worker) -> None:  # called by Dask in the worker process, on its main thread
    signal.signal(signal.SIGINT, signal.SIG_IGN)
