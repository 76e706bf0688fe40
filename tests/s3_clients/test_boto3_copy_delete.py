"""boto3: copy_object (metadata directive, conditions, errors) and delete_objects."""

import os

from s3util import md5_etag, s3_error, sha256


def put_source(s3, bucket, key, data):
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType="text/csv",
        CacheControl="max-age=5",
        Metadata={"origin": "source", "n": "1"},
    )


def test_copy_keeps_bytes_and_metadata(s3, bucket, prefix):
    data = os.urandom(300_000)
    src, dst = prefix + "source.csv", prefix + "copy.csv"
    put_source(s3, bucket, src, data)
    copied = s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src})
    assert copied["CopyObjectResult"]["ETag"] == md5_etag(data)
    assert "LastModified" in copied["CopyObjectResult"]
    head = s3.head_object(Bucket=bucket, Key=dst)
    assert head["Metadata"] == {"origin": "source", "n": "1"}
    assert head["ContentType"] == "text/csv"
    assert head["CacheControl"] == "max-age=5"
    assert head["ETag"] == md5_etag(data)
    assert sha256(s3.get_object(Bucket=bucket, Key=dst)["Body"].read()) == sha256(data)
    # The source is untouched.
    assert sha256(s3.get_object(Bucket=bucket, Key=src)["Body"].read()) == sha256(data)


def test_copy_with_metadata_directive_replace(s3, bucket, prefix):
    data = os.urandom(1000)
    src, dst = prefix + "source.csv", prefix + "replaced.json"
    put_source(s3, bucket, src, data)
    s3.copy_object(
        Bucket=bucket,
        Key=dst,
        CopySource={"Bucket": bucket, "Key": src},
        MetadataDirective="REPLACE",
        Metadata={"fresh": "yes"},
        ContentType="application/json",
    )
    head = s3.head_object(Bucket=bucket, Key=dst)
    assert head["Metadata"] == {"fresh": "yes"}
    assert head["ContentType"] == "application/json"
    assert "CacheControl" not in head
    assert s3.get_object(Bucket=bucket, Key=dst)["Body"].read() == data


def test_copy_ignores_new_metadata_without_replace(s3, bucket, prefix):
    data = os.urandom(1000)
    src, dst = prefix + "source.csv", prefix + "copied.csv"
    put_source(s3, bucket, src, data)
    # MetadataDirective COPY (the default): metadata in the request is ignored, as on S3.
    s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src}, Metadata={"ignored": "1"})
    assert s3.head_object(Bucket=bucket, Key=dst)["Metadata"] == {"origin": "source", "n": "1"}


def test_copy_onto_itself_needs_replace(s3, bucket, prefix):
    data = os.urandom(1000)
    key = prefix + "self.csv"
    put_source(s3, bucket, key, data)
    assert s3_error(s3.copy_object, Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key}) == (
        "InvalidRequest",
        400,
    )
    s3.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE",
        Metadata={"updated": "1"},
    )
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"] == {"updated": "1"}
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def test_copy_key_with_special_characters(s3, bucket, prefix):
    data = os.urandom(1000)
    src, dst = prefix + "caf\u00e9 +%20 & more.bin", prefix + "dest \u00e9+.bin"
    s3.put_object(Bucket=bucket, Key=src, Body=data)
    s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": src})
    assert s3.get_object(Bucket=bucket, Key=dst)["Body"].read() == data


def test_copy_conditions_and_missing_source(s3, bucket, prefix):
    data = os.urandom(1000)
    src, dst = prefix + "source.bin", prefix + "dest.bin"
    s3.put_object(Bucket=bucket, Key=src, Body=data)
    source = {"Bucket": bucket, "Key": src}
    assert s3_error(
        s3.copy_object, Bucket=bucket, Key=dst, CopySource=source, CopySourceIfMatch='"0123456789abcdef0123456789abcdef"'
    ) == ("PreconditionFailed", 412)
    assert s3_error(
        s3.copy_object, Bucket=bucket, Key=dst, CopySource=source, CopySourceIfNoneMatch=md5_etag(data)
    ) == ("PreconditionFailed", 412)
    assert s3_error(s3.head_object, Bucket=bucket, Key=dst) == ("404", 404)
    s3.copy_object(Bucket=bucket, Key=dst, CopySource=source, CopySourceIfMatch=md5_etag(data))
    assert s3.get_object(Bucket=bucket, Key=dst)["Body"].read() == data
    assert s3_error(
        s3.copy_object, Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": prefix + "missing"}
    ) == ("NoSuchKey", 404)


def test_delete_objects(s3, bucket, prefix):
    keys = [f"{prefix}d{i}" for i in range(5)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    keep = prefix + "keep"
    s3.put_object(Bucket=bucket, Key=keep, Body=b"keep")
    missing = prefix + "never-existed"
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys + [missing]]})
    # S3 reports a key that was not there as deleted too.
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(keys + [missing])
    assert "Errors" not in result or result["Errors"] == []
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert [c["Key"] for c in listed["Contents"]] == [keep]
    for key in keys:
        assert s3_error(s3.head_object, Bucket=bucket, Key=key) == ("404", 404)


def test_delete_objects_quiet(s3, bucket, prefix):
    keys = [f"{prefix}q{i}" for i in range(3)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"q")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    assert result.get("Deleted", []) == []
    assert result.get("Errors", []) == []
    for key in keys:
        assert s3_error(s3.head_object, Bucket=bucket, Key=key) == ("404", 404)
