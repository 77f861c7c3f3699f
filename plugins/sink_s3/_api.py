"""S3 sink: each frame an OCFL object under ``s3://BUCKET/PREFIX/``, every part checksummed.

Every PUT carries the part's SHA-256 (``x-amz-checksum-sha256``). At start the sink finds out
whether the server checks it: a probe PUT with a wrong checksum must be refused. Where it is, the
server's acceptance of each PUT is the verification; where it is not (some S3-compatible servers
ignore the header), every part is read back and hashed after it is written.
boto3's own retries are off: the uploader's backoff owns retrying, and reports each failure.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from nanoaid_daemon.errors import ConfigError, PluginError, SinkError
from nanoaid_daemon.plugins import PluginContext
from nanoaid_daemon.uploader.bundle import Bundle, BundleFile, Receipt, iter_verified
from nanoaid_daemon.uploader.ocfl import ROOT_NAMASTE, ensure_root, write_remote
from nanoaid_daemon.uploader.sinks import Unconfigured, pop_secret

__all__ = ["create", "S3Sink", "S3Storage"]

log = logging.getLogger(__name__)

IN_MEMORY_LIMIT = 64 << 20
AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
              "ExpiredToken", "AuthorizationHeaderMalformed", "InvalidClientTokenId", "403"}
KNOWN = ("url", "endpoint_url", "region", "access_key_id", "secret_access_key", "secret_access_key_file",
         "connect_timeout_s", "read_timeout_s")


def create(ctx: PluginContext) -> S3Sink | Unconfigured:
    opts = dict(ctx.options)
    url = opts.pop("url", None)
    if not url:
        return Unconfigured("s3", "give --sink s3://BUCKET/PREFIX")
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"sink 's3': {url!r} is not an s3://BUCKET/PREFIX URL")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    endpoint = opts.pop("endpoint_url", None) or query.get("endpoint")
    secret = pop_secret(opts, "secret_access_key", "s3")
    key_id = opts.pop("access_key_id", None)
    region = opts.pop("region", None) or query.get("region") or "us-east-1"
    timeouts = (float(opts.pop("connect_timeout_s", 5)), float(opts.pop("read_timeout_s", 60)))
    if opts:
        raise ConfigError(f"sink 's3': unknown option(s) {sorted(opts)}; known: {', '.join(KNOWN)}")
    client = _client(endpoint, region, key_id, secret, timeouts)
    return S3Sink(client, parts.netloc, parts.path.strip("/"), endpoint or "AWS S3")


def _client(endpoint, region, key_id, secret, timeouts):
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise PluginError("sink 's3' needs boto3: pip install 'nanoaid-daemon[upload]'") from exc
    config = Config(connect_timeout=timeouts[0], read_timeout=timeouts[1], retries={"max_attempts": 1},
                    s3={"addressing_style": "path"})
    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=region)
    return session.client("s3", endpoint_url=endpoint, config=config)


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


PROBE = ".nanoaid-checksum-probe"


class S3Storage:
    def __init__(self, client, bucket: str, prefix: str):
        self.client, self.bucket, self.prefix = client, bucket, (prefix + "/" if prefix else "")
        self.server_checks_sha256 = False

    def probe_checksums(self) -> bool:
        """True when the server refuses a PUT whose x-amz-checksum-sha256 does not match its body."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(PROBE), Body=b"probe",
                                   ChecksumSHA256=_b64(hashlib.sha256(b"other").hexdigest()))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in AUTH_CODES or code == "NoSuchBucket":
                raise
            self.server_checks_sha256 = True
            return True
        self.client.delete_object(Bucket=self.bucket, Key=self.key(PROBE))
        self.server_checks_sha256 = False
        return False

    def key(self, path: str) -> str:
        return self.prefix + path

    def location(self, path: str) -> str:
        return f"s3://{self.bucket}/{self.key(path)}"

    def read(self, path: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(path))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def put_bytes(self, path: str, data: bytes) -> None:
        self._put(path, data, hashlib.sha256(data).hexdigest())

    def put_file(self, path: str, f: BundleFile) -> None:
        if f.data is not None or f.size <= IN_MEMORY_LIMIT:
            self._put(path, b"".join(iter_verified(f)), f.sha256)
            return
        for _ in iter_verified(f):  # hash first: a changed frame is refused before any byte is sent
            pass
        with f.open() as body:
            self._put(path, body, f.sha256, f.size)

    def _put(self, path: str, body, sha256: str, size: int | None = None) -> None:
        extra = {"ContentLength": size} if size is not None else {}
        self.client.put_object(Bucket=self.bucket, Key=self.key(path), Body=body,
                               ChecksumSHA256=_b64(sha256), **extra)
        self._verify(path, sha256)

    def _verify(self, path: str, sha256: str) -> None:
        if self.server_checks_sha256:
            return  # the server compared the body with x-amz-checksum-sha256 before accepting it
        body = self.client.get_object(Bucket=self.bucket, Key=self.key(path))["Body"].read()
        if hashlib.sha256(body).hexdigest() != sha256:
            raise SinkError(f"{self.location(path)}: the server holds other bytes than were sent (sha256 mismatch)")


class S3Sink:
    name = "s3"

    def __init__(self, client, bucket: str, prefix: str, endpoint: str):
        self.storage = S3Storage(client, bucket, prefix)
        self.endpoint = endpoint
        self._checked = False

    def describe(self) -> str:
        return f"S3 {self.storage.location('')} at {self.endpoint}"

    def close(self) -> None:
        """Release the client's pooled connections."""
        closer = getattr(self.storage.client, "close", None)
        if callable(closer):
            closer()

    def check(self) -> None:
        with self._errors("checking the bucket"):
            self.storage.read(ROOT_NAMASTE[0])  # a GET: its errors carry a reason, a HEAD's do not
            if not self.storage.probe_checksums():
                log.info("%s does not check x-amz-checksum-sha256; every part is read back instead", self.endpoint)
            ensure_root(self.storage)
        self._checked = True

    def put(self, bundle: Bundle) -> Receipt:
        if not self._checked:
            self.check()
        with self._errors(f"storing frame {bundle.frame_id}"):
            return write_remote(self.storage, bundle)

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        where = f"S3 endpoint {self.endpoint} (bucket {self.storage.bucket!r})"
        try:
            yield
        except NoCredentialsError as exc:
            raise SinkError(f"no S3 credentials for {where}: set access_key_id and secret_access_key_file "
                            "in plugins.options.s3, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from exc
        except ClientError as exc:
            self._checked = False
            raise SinkError(_client_error_text(exc, where, doing)) from exc
        except BotoCoreError as exc:
            self._checked = False
            raise SinkError(f"{where} is unreachable while {doing}: {exc}; check the endpoint URL and the "
                            "network; every accepted frame is kept and retried") from exc


def _client_error_text(exc, where: str, doing: str) -> str:
    err = exc.response.get("Error", {})
    code = str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
    detail = err.get("Message") or code
    if code in AUTH_CODES:
        return (f"{where} refused the credentials while {doing} ({code}: {detail}); check access_key_id and "
                "the secret key; every accepted frame is kept and retried")
    if code in ("NoSuchBucket", "404") and "bucket" in doing:
        return f"bucket {where} does not exist ({code}); create it, then the backlog drains"
    return f"{where} failed while {doing}: {code}: {detail}; retrying"
