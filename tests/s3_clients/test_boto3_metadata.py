"""boto3: metadata and standard headers round trip; every checksum algorithm, right and wrong."""

import base64
import gzip
import hashlib
import os
from datetime import datetime, timezone

import pytest

from s3util import checksum, md5_etag, s3_error, sha256

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
HEADERS = {
    "CacheControl": "max-age=60, private",
    "ContentDisposition": 'attachment; filename="report.txt"',
    "ContentEncoding": "gzip",
    "ContentType": "text/plain; charset=utf-8",
    "ContentLanguage": "en-GB",
}
METADATA = {"color": "blue", "note": "two words", "empty-ish": "-"}


def test_metadata_round_trip(s3, bucket, prefix):
    body = gzip.compress(b"hello metadata\n" * 100)
    key = prefix + "meta.txt.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=METADATA, Expires=EXPIRES, **HEADERS)
    head = s3.head_object(Bucket=bucket, Key=key)
    got = s3.get_object(Bucket=bucket, Key=key)
    for reply in (head, got):
        assert reply["Metadata"] == METADATA
        for name, value in HEADERS.items():
            assert reply.get(name) == value, name
        assert reply["ExpiresString"] == "Wed, 02 Jan 2030 03:04:05 GMT"
        assert reply["ContentLength"] == len(body)
    # Stored as sent: the service does not decode Content-Encoding.
    assert got["Body"].read() == body


def test_metadata_keys_come_back_lowercase(s3, bucket, prefix):
    key = prefix + "case.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x", Metadata={"Mixed-Case": "Value"})
    assert s3.head_object(Bucket=bucket, Key=key)["Metadata"] == {"mixed-case": "Value"}


def test_default_content_type(s3, bucket, prefix):
    key = prefix + "untyped"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert s3.head_object(Bucket=bucket, Key=key)["ContentType"] == "binary/octet-stream"


def test_response_header_overrides(s3, bucket, prefix):
    key = prefix + "override.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"data", ContentType="application/octet-stream")
    got = s3.get_object(
        Bucket=bucket,
        Key=key,
        ResponseContentType="text/csv",
        ResponseContentDisposition='attachment; filename="x.csv"',
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="fr",
        ResponseExpires=EXPIRES,
    )
    assert got["ContentType"] == "text/csv"
    assert got["ContentDisposition"] == 'attachment; filename="x.csv"'
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLanguage"] == "fr"
    assert got["ExpiresString"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert got["Body"].read() == b"data"


ALGORITHMS = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_right_checksum_is_stored_and_returned(s3, bucket, prefix, algorithm):
    data = os.urandom(70_000)
    expected = checksum(algorithm, data)
    key = prefix + "summed.bin"
    put = s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == expected
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == expected
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == expected
    assert sha256(got["Body"].read()) == sha256(data)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_right_checksum_given_by_value(s3, bucket, prefix, algorithm):
    data = os.urandom(10_000)
    expected = checksum(algorithm, data)
    key = prefix + "given.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data, **{f"Checksum{algorithm}": expected})
    assert s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")[f"Checksum{algorithm}"] == expected


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_checksum_is_refused_and_changes_nothing(s3, bucket, prefix, algorithm):
    original = os.urandom(5000)
    key = prefix + "kept.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=original, ChecksumAlgorithm=algorithm)
    other = os.urandom(5000)
    wrong = checksum(algorithm, b"not these bytes")
    assert s3_error(s3.put_object, Bucket=bucket, Key=key, Body=other, **{f"Checksum{algorithm}": wrong}) == (
        "BadDigest",
        400,
    )
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert sha256(got["Body"].read()) == sha256(original)
    assert got[f"Checksum{algorithm}"] == checksum(algorithm, original)
    # A new key with a wrong checksum is not created at all.
    assert s3_error(s3.put_object, Bucket=bucket, Key=key + ".new", Body=other, **{f"Checksum{algorithm}": wrong}) == (
        "BadDigest",
        400,
    )
    assert s3_error(s3.head_object, Bucket=bucket, Key=key + ".new") == ("404", 404)


def test_content_md5(s3, bucket, prefix):
    data = os.urandom(5000)
    key = prefix + "md5.bin"
    right = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert s3.put_object(Bucket=bucket, Key=key, Body=data, ContentMD5=right)["ETag"] == md5_etag(data)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert s3_error(s3.put_object, Bucket=bucket, Key=key, Body=os.urandom(5000), ContentMD5=wrong) == (
        "BadDigest",
        400,
    )
    assert sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == sha256(data)
