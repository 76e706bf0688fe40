"""boto3: the simplest round trip, the bucket calls, and the errors for what is not there."""

import os

from s3util import md5_etag, s3_error, sha256


def test_put_get_head_delete_round_trip(s3, bucket, prefix):
    data = os.urandom(100_000)
    key = prefix + "object.bin"
    put = s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["ETag"] == md5_etag(data)

    got = s3.get_object(Bucket=bucket, Key=key)
    assert sha256(got["Body"].read()) == sha256(data)
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == md5_etag(data)

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == md5_etag(data)
    assert head["LastModified"] == got["LastModified"]

    assert s3.delete_object(Bucket=bucket, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3_error(s3.get_object, Bucket=bucket, Key=key) == ("NoSuchKey", 404)


def test_keys_with_spaces_plus_and_unicode(s3, bucket, prefix):
    for name in ["with space.txt", "plus+sign.txt", "caf\u00e9 cr\u00e8me.txt", "percent%20.txt", "a/b/c=d&e.txt"]:
        key = prefix + name
        s3.put_object(Bucket=bucket, Key=key, Body=name.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == name.encode(), key


def test_missing_keys_and_buckets(s3, bucket, prefix):
    assert s3_error(s3.get_object, Bucket=bucket, Key=prefix + "missing") == ("NoSuchKey", 404)
    # HEAD has no body, so botocore reports the status as the code.
    assert s3_error(s3.head_object, Bucket=bucket, Key=prefix + "missing") == ("404", 404)
    assert s3_error(s3.get_object, Bucket="no-such-bucket-here", Key="k") == ("NoSuchBucket", 404)
    assert s3_error(s3.head_bucket, Bucket="no-such-bucket-here") == ("404", 404)
    # Deleting a key that is not there succeeds, as on S3.
    assert s3.delete_object(Bucket=bucket, Key=prefix + "missing")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_list_buckets(s3, bucket):
    listed = s3.list_buckets()
    names = [b["Name"] for b in listed["Buckets"]]
    assert bucket in names
    assert all("CreationDate" in b for b in listed["Buckets"])


def test_head_bucket(s3, bucket):
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_get_bucket_location(s3, bucket):
    # us-east-1 is reported as an empty LocationConstraint, which boto3 returns as None.
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None


def test_create_bucket_on_the_existing_bucket(s3, bucket):
    assert s3_error(s3.create_bucket, Bucket=bucket) == ("BucketAlreadyOwnedByYou", 409)


def test_unimplemented_operations_are_refused_and_logged_once(s3, bucket, prefix):
    key = prefix + "tagged.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    for _ in range(3):
        assert s3_error(s3.get_object_tagging, Bucket=bucket, Key=key) == ("NotImplemented", 501)
        assert s3_error(s3.get_bucket_versioning, Bucket=bucket) == ("NotImplemented", 501)
    # Asking for a feature on a write is refused too, and nothing is stored.
    assert s3_error(s3.put_object, Bucket=bucket, Key=prefix + "t", Body=b"x", Tagging="a=b") == (
        "NotImplemented",
        501,
    )
    assert s3_error(s3.head_object, Bucket=bucket, Key=prefix + "t") == ("404", 404)
    log = open(os.environ["ASSETS_SERVER_LOG"], encoding="utf-8").read()
    once = [line for line in log.splitlines() if "not implemented (logged once" in line]
    assert sum("GetObjectTagging" in line for line in once) == 1, once
    assert sum("GetBucketVersioning" in line for line in once) == 1, once
    assert all(" WARN " in line for line in once), once
    # No error line with a body per call (s3s's own logging is off).
    assert not [line for line in log.splitlines() if " ERROR " in line]
