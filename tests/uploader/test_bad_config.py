"""Bad configuration is reported clearly, and nothing already accepted is dropped.

The repository is unreachable, then refuses the credentials, then is fixed: the same accepted
frames wait through all of it and are stored once at the end. A full archive disk (a real tmpfs
filling up, in a private mount namespace) is reported as full and drained when space returns.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from nanoaid_daemon.cli import main

from .factory import EventLog
from .helpers import nanoaid, nanoaid_cmd, object_inventories, running, tail, upload_status, validate_ocfl, wait_for
from .servers import free_port, moto_server, s3_client, setup_s3_user


def _config(path, port, key_id="nobody", secret="nothing"):
    path.write_text(textwrap.dedent(f"""\
        [plugins.options.s3]
        endpoint_url = "http://127.0.0.1:{port}"
        access_key_id = "{key_id}"
        secret_access_key = "{secret}"
        connect_timeout_s = 0.5
        read_timeout_s = 5
    """))
    return path


def _start(state, log, config):
    return running(nanoaid_cmd("upload", "--state", state, "--events", log.path, "--sink", "s3://frames/a",
                               "--config", config, "--retry-initial", "0.05", "--retry-max", "0.3"),
                   log=state.parent / "upload.log")


def _stop(proc, state):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, tail(state.parent / "upload.log")
    return tail(state.parent / "upload.log", 100_000)


def _failing_with(state, text, accepted):
    def check():
        if not (state / "progress.sqlite3").exists():
            return None
        s = upload_status(state)
        return s if s["failing"] and s["last_seq"] == accepted and text in (s["last_error"] or "") else None
    return check


def test_unreachable_then_wrong_credentials_then_fixed_drops_nothing(tmp_path):
    port, state = free_port(), tmp_path / "state"
    log = EventLog(tmp_path / "events.jsonl")
    log.frames(tmp_path / "watch", 12)

    with _start(state, log, _config(tmp_path / "c.toml", port)) as proc:
        wait_for(_failing_with(state, "unreachable", 12), 60, "the unreachable endpoint in status")
        shown = nanoaid("upload", "status", "--state", state)
        assert shown.returncode == 1
        assert "FAILING" in shown.stdout and "backlog:      12 frame(s)" in shown.stdout
        assert f"http://127.0.0.1:{port}" in shown.stdout and "is unreachable" in shown.stdout
        err = _stop(proc, state)
    assert "is unreachable" in err  # the log says it too

    with moto_server(tmp_path, port=port, auth=True).start() as server:
        key_id, secret = setup_s3_user(server.url)
        s3_client(server.url, key_id, secret).create_bucket(Bucket="frames")
        with _start(state, log, _config(tmp_path / "c.toml", port, key_id, "not-the-secret")) as proc:
            status = wait_for(_failing_with(state, "refused the credentials", 12), 60, "the refusal in status")
            assert "SignatureDoesNotMatch" in status["last_error"] and status["backlog"] == 12
            _stop(proc, state)

        done = nanoaid("upload", "--state", state, "--events", log.path, "--no-follow", "--sink", "s3://frames/a",
                       "--config", _config(tmp_path / "c.toml", port, key_id, secret))
        assert done.returncode == 0, done.stderr[-2000:]
        status = upload_status(state)
        assert (status["stored_frames"], status["backlog"], status["failing"]) == (12, 0, False)
        assert nanoaid("upload", "status", "--state", state).returncode == 0


FULL_DISK = """
set -u
mount -t tmpfs -o size=256k tmpfs "$ARCHIVE" || exit 77
"$PY" -m nanoaid_daemon.cli upload --state "$STATE" --events "$EVENTS" --no-follow --archive "$ARCHIVE" \
    --retry-initial 0.05 --retry-max 0.2 2> "$WORK/uploader.log" &
UP=$!
while [ ! -e "$WORK/free-space" ]; do sleep 0.05; done
mount -o remount,size=16m "$ARCHIVE"
wait $UP
echo "uploader exit $?" > "$WORK/exit"
cp -a "$ARCHIVE" "$WORK/archive-copy"
"""


def test_full_archive_disk_is_reported_and_drained_once_space_returns(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to mount a small private tmpfs")
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    log = EventLog(tmp_path / "events.jsonl")
    log.frames(tmp_path / "watch", 30)
    (tmp_path / "archive").mkdir()
    state = tmp_path / "state"
    env = {**os.environ, "ARCHIVE": str(tmp_path / "archive"), "STATE": str(state), "EVENTS": str(log.path),
           "WORK": str(tmp_path), "PY": sys.executable}
    with running(["unshare", "--mount", "--map-root-user", "sh", "-c", FULL_DISK], env=env) as script:
        try:
            status = wait_for(_failing_with(state, "is full", 30), 60, "the full disk in status")
            assert "No space left on device" in status["last_error"] and 0 < status["stored_frames"] < 30
            assert "free space" in status["last_error"]
        finally:
            (tmp_path / "free-space").touch()  # lets the script end normally whatever happened
        assert script.wait(timeout=120) == 0
    assert (tmp_path / "exit").read_text().strip() == "uploader exit 0", (tmp_path / "uploader.log").read_text()
    assert upload_status(state)["stored_frames"] == 30
    copy = tmp_path / "archive-copy"
    assert len(object_inventories(copy)) == 30
    assert validate_ocfl(copy) == {"valid": True, "structure_error": None, "objects": 30, "good": 30, "errors": []}


@pytest.mark.parametrize("argv,message", [
    (["--sink", "ftp://example.org/x"], "no sink plugin handles ftp://"),
    (["--sink", "s3://frames/x"], "unknown option"),
    ([], "say where frames go"),
    (["--archive", "A", "--retry-initial", "0"], "--retry-initial"),
])
def test_bad_settings_exit_2_with_the_reason(tmp_path, capsys, argv, message):
    (tmp_path / "events.jsonl").touch()
    config = tmp_path / "c.toml"
    config.write_text('[plugins.options.s3]\nendpont_url = "http://typo"\n')
    code = main(["upload", "--state", str(tmp_path / "s"), "--events", str(tmp_path / "events.jsonl"),
                 "--config", str(config), *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_status_of_a_folder_without_uploader_state_is_a_usage_error(tmp_path, capsys):
    assert main(["upload", "status", "--state", str(tmp_path)]) == 2
    assert "no uploader state" in capsys.readouterr().err


def test_status_json_is_one_document(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    log.frames(tmp_path / "watch", 2)
    done = nanoaid("upload", "--state", tmp_path / "s", "--events", log.path, "--no-follow", "--archive",
                   tmp_path / "archive")
    assert done.returncode == 0, done.stderr
    out = nanoaid("upload", "status", "--state", tmp_path / "s", "--json")
    doc = json.loads(out.stdout)
    assert (out.returncode, doc["healthy"], doc["stored_frames"], doc["backlog"]) == (0, True, 2, 0)
