"""The test-only support in nanoaid_daemon.testing: waiting, the thread guard, the uploader's crash hook."""
from __future__ import annotations

import threading

import pytest

from nanoaid_daemon.testing import FAULT_ENV, UploadFault, leaked_threads, upload_fault, wait_for


def test_wait_for_returns_the_first_truthy_value():
    values = iter([0, None, "", "ready"])
    assert wait_for(lambda: next(values), timeout=5, interval=0.001) == "ready"


def test_wait_for_names_what_it_waited_for_when_it_gives_up():
    with pytest.raises(AssertionError, match="timed out after 0.05 s waiting for the sidecar"):
        wait_for(lambda: False, timeout=0.05, message="the sidecar", interval=0.01)


def test_the_thread_guard_counts_a_daemon_thread_until_it_ends():
    before = set(threading.enumerate())
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="left-running", daemon=True)
    thread.start()
    try:
        assert [t.name for t in leaked_threads(before, grace_s=0.1)] == ["left-running"]
    finally:
        release.set()
        thread.join(5)
    assert leaked_threads(before, grace_s=1.0) == []


@pytest.mark.parametrize("spec, action, at", [("after-put", "pause", 1), ("after-put:kill@3", "kill", 3)])
def test_the_crash_hook_reads_its_point_action_and_count(spec, action, at):
    fault = upload_fault({FAULT_ENV: spec})
    assert isinstance(fault, UploadFault) and (fault.action, fault.at) == (action, at)


def test_no_crash_hook_without_the_variable_and_a_clear_error_for_a_wrong_one():
    assert upload_fault({}) is None
    with pytest.raises(ValueError, match=f"{FAULT_ENV}='before-put': expected after-put"):
        upload_fault({FAULT_ENV: "before-put"})


def test_the_crash_hook_lets_earlier_uploads_through():
    fault = UploadFault("after-put:kill@2")
    fault(1, "a" * 64)  # the first upload passes; the second would kill this process
    assert fault.count == 1
