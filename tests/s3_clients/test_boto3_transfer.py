"""boto3: managed transfers (multipart up, ranged parallel down) and ranged GETs."""

import os

import pytest
from boto3.s3.transfer import TransferConfig

from s3util import MIB, md5_etag, random_file, s3_error, sha256, sha256_file

# Small thresholds: anything over 5 MiB goes multipart in 5 MiB parts (S3's smallest non-last
# part), eight at a time, and downloads run as eight parallel ranged GETs.
SMALL = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=8)


@pytest.mark.parametrize("size", [1 * MIB, 23 * MIB + 123], ids=["1MiB-single", "23MiB-multipart"])
def test_upload_file_and_download_file(s3, bucket, prefix, tmp_path, size):
    source = random_file(tmp_path / "source.bin", size)
    key = prefix + "file.bin"
    s3.upload_file(str(source), bucket, key, Config=SMALL)

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == size
    parts = -(-size // (5 * MIB)) if size > 5 * MIB else 0
    if parts:
        assert head["ETag"].endswith(f'-{parts}"'), head["ETag"]
    else:
        assert head["ETag"] == md5_etag(source.read_bytes())

    target = tmp_path / "target.bin"
    s3.download_file(bucket, key, str(target), Config=SMALL)
    assert sha256_file(target) == sha256_file(source)


@pytest.fixture
def thousand(s3, bucket, prefix):
    data = os.urandom(1000)
    key = prefix + "thousand.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return key, data


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 999),  # open range
        ("bytes=-100", 900, 999),  # suffix range
        ("bytes=990-5000", 990, 999),  # end past the object: clipped
        ("bytes=-5000", 0, 999),  # suffix longer than the object: all of it
        ("bytes=999-999", 999, 999),
        ("bytes=0-0", 0, 0),
    ],
)
def test_ranged_get(s3, bucket, thousand, header, start, end):
    key, data = thousand
    got = s3.get_object(Bucket=bucket, Key=key, Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/1000"
    assert got["ContentLength"] == end - start + 1
    assert got["AcceptRanges"] == "bytes"
    assert got["ETag"] == md5_etag(data)
    assert got["Body"].read() == data[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-1001", "bytes=5000-6000"])
def test_range_past_the_end_is_416(s3, bucket, thousand, header):
    key, _ = thousand
    assert s3_error(s3.get_object, Bucket=bucket, Key=key, Range=header) == ("InvalidRange", 416)


def test_get_without_range_is_the_whole_object(s3, bucket, thousand):
    key, data = thousand
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "ContentRange" not in got
    assert sha256(got["Body"].read()) == sha256(data)
