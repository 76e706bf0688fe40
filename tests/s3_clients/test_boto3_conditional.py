"""boto3: conditional GET/HEAD (304/412 as S3 decides them) and conditional PUT."""

import os
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from s3util import md5_etag, s3_error, sha256


@pytest.fixture
def stored(s3, bucket, prefix):
    data = os.urandom(4096)
    key = prefix + "conditional.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    head = s3.head_object(Bucket=bucket, Key=key)
    return key, data, head["ETag"], head["LastModified"]


def ok(s3, **kwargs):
    got = s3.get_object(**kwargs)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    return got["Body"].read()


HOUR = timedelta(hours=1)


def test_get_if_match(s3, bucket, stored):
    key, data, etag, _ = stored
    assert ok(s3, Bucket=bucket, Key=key, IfMatch=etag) == data
    assert s3_error(s3.get_object, Bucket=bucket, Key=key, IfMatch='"0123456789abcdef0123456789abcdef"') == (
        "PreconditionFailed",
        412,
    )


def test_get_if_none_match(s3, bucket, stored):
    key, data, etag, _ = stored
    # 304 has no body: botocore reports the status as the code.
    assert s3_error(s3.get_object, Bucket=bucket, Key=key, IfNoneMatch=etag) == ("304", 304)
    assert ok(s3, Bucket=bucket, Key=key, IfNoneMatch='"0123456789abcdef0123456789abcdef"') == data


def test_get_if_modified_since(s3, bucket, stored):
    key, data, _, modified = stored
    # Compared at the second precision Last-Modified is reported in.
    assert s3_error(s3.get_object, Bucket=bucket, Key=key, IfModifiedSince=modified) == ("304", 304)
    assert ok(s3, Bucket=bucket, Key=key, IfModifiedSince=modified - HOUR) == data


def test_get_if_unmodified_since(s3, bucket, stored):
    key, data, _, modified = stored
    assert ok(s3, Bucket=bucket, Key=key, IfUnmodifiedSince=modified) == data
    assert s3_error(s3.get_object, Bucket=bucket, Key=key, IfUnmodifiedSince=modified - HOUR) == (
        "PreconditionFailed",
        412,
    )


def test_get_condition_precedence(s3, bucket, stored):
    key, data, etag, modified = stored
    # S3: If-Match true and If-Unmodified-Since false -> 200.
    assert ok(s3, Bucket=bucket, Key=key, IfMatch=etag, IfUnmodifiedSince=modified - HOUR) == data
    # S3: If-None-Match false and If-Modified-Since true -> 304.
    assert s3_error(s3.get_object, Bucket=bucket, Key=key, IfNoneMatch=etag, IfModifiedSince=modified - HOUR) == (
        "304",
        304,
    )


def test_head_conditions(s3, bucket, stored):
    key, _, etag, modified = stored
    assert s3.head_object(Bucket=bucket, Key=key, IfMatch=etag)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3_error(s3.head_object, Bucket=bucket, Key=key, IfNoneMatch=etag) == ("304", 304)
    assert s3_error(s3.head_object, Bucket=bucket, Key=key, IfMatch='"0123456789abcdef0123456789abcdef"') == (
        "412",
        412,
    )
    assert s3_error(s3.head_object, Bucket=bucket, Key=key, IfUnmodifiedSince=modified - HOUR) == ("412", 412)
    assert s3_error(s3.head_object, Bucket=bucket, Key=key, IfModifiedSince=modified) == ("304", 304)


def test_put_if_none_match_star(s3, bucket, prefix):
    key = prefix + "once.bin"
    first = os.urandom(1000)
    assert s3.put_object(Bucket=bucket, Key=key, Body=first, IfNoneMatch="*")["ETag"] == md5_etag(first)
    assert s3_error(s3.put_object, Bucket=bucket, Key=key, Body=os.urandom(1000), IfNoneMatch="*") == (
        "PreconditionFailed",
        412,
    )
    assert sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == sha256(first)


def test_put_if_match(s3, bucket, prefix):
    key = prefix + "guarded.bin"
    first, second = os.urandom(1000), os.urandom(1000)
    etag = s3.put_object(Bucket=bucket, Key=key, Body=first)["ETag"]
    assert s3_error(
        s3.put_object, Bucket=bucket, Key=key, Body=second, IfMatch='"0123456789abcdef0123456789abcdef"'
    ) == ("PreconditionFailed", 412)
    assert sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == sha256(first)
    assert s3.put_object(Bucket=bucket, Key=key, Body=second, IfMatch=etag)["ETag"] == md5_etag(second)
    assert sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == sha256(second)


def test_put_if_match_on_a_missing_key(s3, bucket, prefix):
    key = prefix + "absent.bin"
    assert s3_error(
        s3.put_object, Bucket=bucket, Key=key, Body=b"x", IfMatch='"0123456789abcdef0123456789abcdef"'
    ) == ("NoSuchKey", 404)
    assert s3_error(s3.head_object, Bucket=bucket, Key=key) == ("404", 404)


def test_not_modified_carries_the_validators(s3, bucket, stored):
    key, _, etag, _ = stored
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key=key, IfNoneMatch=etag)
    headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["etag"] == etag
    assert headers["last-modified"] == s3.head_object(Bucket=bucket, Key=key)["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
