"""Helpers shared by the real-client tests: the endpoint's settings, hashing, S3 errors, REST."""

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path

import boto3
import pytest
from awscrt import checksums as crt_checksums
from botocore.config import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024

S3_URL = os.environ["ASSETS_S3_URL"]
API_URL = os.environ["ASSETS_API_URL"]
BUCKET = os.environ.get("ASSETS_BUCKET", "assets")
ACCESS_KEY = os.environ["AWS_ACCESS_KEY_ID"]
SECRET_KEY = os.environ["AWS_SECRET_ACCESS_KEY"]
REGION = "us-east-1"


def make_client(region: str = REGION, **config):
    """A boto3 S3 client as a user would configure one for an S3-compatible server (botocore's
    standard retries: 3 attempts for connection errors and 5xx; 4xx answers are never retried)."""
    return boto3.client(
        "s3",
        endpoint_url=S3_URL,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "total_max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=16,
            **config,
        ),
    )


def unique(name: str) -> str:
    """A key prefix of its own for one test: `t/<name>-<random>/`."""
    return f"t/{name}-{uuid.uuid4().hex[:8]}/"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def tree_hashes(root: Path) -> dict:
    """Relative path -> sha256 of every file under root."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def random_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * MIB)
            f.write(os.urandom(n))
            left -= n
    return path


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def multipart_etag(parts: list) -> str:
    """S3's ETag of a completed multipart upload: md5 of the parts' binary md5s, then -N."""
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def checksum(algorithm: str, data: bytes) -> str:
    """The base64 value S3 uses for x-amz-checksum-<algorithm>, computed independently."""
    if algorithm == "CRC32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "CRC32C":
        raw = crt_checksums.crc32c(data).to_bytes(4, "big")
    elif algorithm == "CRC64NVME":
        raw = crt_checksums.crc64nvme(data).to_bytes(8, "big")
    elif algorithm == "SHA1":
        raw = hashlib.sha1(data).digest()
    elif algorithm == "SHA256":
        raw = hashlib.sha256(data).digest()
    else:
        raise ValueError(algorithm)
    return base64.b64encode(raw).decode()


def s3_error(call, *args, **kwargs):
    """Runs a botocore call that must fail; returns (error code, HTTP status) as botocore saw them."""
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    """A plain HTTP request (no SDK): returns (status, headers (case-insensitive), body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def xml_field(body: bytes, tag: str) -> str:
    text = body.decode("utf-8", "replace")
    start = text.find(f"<{tag}>")
    end = text.find(f"</{tag}>")
    return text[start + len(tag) + 2 : end] if start >= 0 and end > start else ""


# --- the REST API -----------------------------------------------------------------------------


def api(method: str, path: str, payload=None):
    """Calls the REST API; returns (status, parsed JSON or None)."""
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"content-type": "application/json"} if body is not None else {}
    headers["authorization"] = "Bearer " + os.environ["ASSETS_API_KEY"]
    status, _, raw = http(method, API_URL + path, body, headers)
    return status, (json.loads(raw) if raw else None)


def create_asset() -> dict:
    status, created = api("POST", "/assets")
    assert status == 201, created
    assert created["asset"]["state"] == "CREATED"
    return created


def find_asset(asset_id: str):
    """The asset as GET /assets lists it (deleted ones included), or None once removed."""
    status, page = api("GET", "/assets?include_deleted=true&limit=1000")
    assert status == 200, page
    return next((a for a in page["items"] if a["asset_id"] == asset_id), None)


def wait_for(asset_id: str, state, timeout: float = 10.0):
    """Polls until the asset is in `state` (None: removed); events are applied asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        asset = find_asset(asset_id)
        seen = asset["state"] if asset else None
        if seen == state:
            return asset
        assert time.monotonic() < deadline, f"asset {asset_id} never reached {state}; last seen {asset}"
        time.sleep(0.05)
