"""Real repository servers for the tests, each a separate process on 127.0.0.1 with a free port.

- S3: moto's standalone server (``python -m moto.server``). It is a PyPI package, so the test
  extra installs it like everything else (no Node.js, no container), it speaks the S3 REST API
  boto3 uses, and with ``INITIAL_NO_AUTH_ACTION_COUNT`` it enforces IAM credentials and request
  signatures, so wrong credentials fail the way they fail against a real service. It keeps data
  in memory, so an outage is staged by freezing it (SIGSTOP/SIGCONT), not by restarting it.
- WebDAV: wsgidav on cheroot, serving a folder with basic authentication. Its data is on disk, so
  it can be killed with SIGKILL and started again on the same port.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["free_port", "ServerProcess", "moto_server", "webdav_server", "s3_client", "setup_s3_user"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None):
        self.argv, self.port, self.log, self.env = argv, port, log, env
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ServerProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(self.env or {})})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.argv} exited with {self.proc.returncode}: "
                                   f"{self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server {self.argv} did not listen on {self.port} within {timeout_s} s")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill9()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def moto_server(workdir: Path, *, port: int | None = None, auth: bool = False) -> ServerProcess:
    """An S3 server; with ``auth`` the first 3 requests are free (to make a user), then IAM applies."""
    port = port or free_port()
    env = {"INITIAL_NO_AUTH_ACTION_COUNT": "3"} if auth else {}
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return ServerProcess(argv, port, workdir / f"moto-{port}.log", env)


def s3_client(endpoint: str, key_id: str = "testing", secret: str = "testing"):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=Config(s3={"addressing_style": "path"}))


def setup_s3_user(endpoint: str) -> tuple[str, str]:
    """The three unauthenticated actions: a user with full S3 rights and its access key."""
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bootstrap",
                       aws_secret_access_key="bootstrap")
    iam.create_user(UserName="uploader")
    key = iam.create_access_key(UserName="uploader")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="uploader", PolicyName="s3", PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]


def webdav_server(workdir: Path, root: Path, *, port: int | None = None, user: str = "uploader",
                  password: str = "s3cret") -> ServerProcess:
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "host": "127.0.0.1", "port": port, "server": "cheroot", "verbose": 1,
        "provider_mapping": {"/": str(root)},
        "http_authenticator": {"domain_controller": None, "accept_basic": True, "accept_digest": False,
                               "default_to_digest": False},
        "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
        "logging": {"enable_loggers": []},
    }
    config_path = workdir / f"wsgidav-{port}.json"
    config_path.write_text(json.dumps(config))
    argv = [sys.executable, "-c", "import sys; from wsgidav.server.server_cli import run; sys.exit(run())",
            "--config", str(config_path)]
    return ServerProcess(argv, port, workdir / f"wsgidav-{port}.log")
