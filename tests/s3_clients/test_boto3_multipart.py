"""boto3: multipart uploads by hand: parts out of order, listings, every refusal, ETag, abort."""

import os

import pytest

from s3util import MIB, md5_etag, multipart_etag, s3_error, sha256

WRONG_ETAG = '"0123456789abcdef0123456789abcdef"'


@pytest.fixture(scope="module")
def parts():
    """Two 5 MiB parts (S3's smallest non-last part) and a short last one."""
    return [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB + 17)]


def upload_parts(s3, bucket, key, upload_id, parts, order):
    etags = {}
    for number in order:
        reply = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=parts[number - 1])
        assert reply["ETag"] == md5_etag(parts[number - 1])
        etags[number] = reply["ETag"]
    return etags


def test_multipart_by_hand(s3, bucket, prefix, parts):
    key = prefix + "assembled.bin"
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType="application/x-parts", Metadata={"made": "by-hand"}
    )
    upload_id = created["UploadId"]
    assert created["Key"] == key and created["Bucket"] == bucket and upload_id

    etags = upload_parts(s3, bucket, key, upload_id, parts, order=[3, 1, 2])

    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [
        (n, etags[n], len(parts[n - 1])) for n in (1, 2, 3)
    ]
    assert listed["IsTruncated"] is False
    first = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True
    assert first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]

    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [(key, upload_id)]

    # Nothing is visible at the key before completion.
    assert s3_error(s3.head_object, Bucket=bucket, Key=key) == ("404", 404)

    def complete(part_list):
        return s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": part_list}
        )

    good = [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]
    wrong_etag = [dict(p, ETag=WRONG_ETAG) if p["PartNumber"] == 2 else p for p in good]
    assert s3_error(complete, wrong_etag) == ("InvalidPart", 400)
    unknown_part = good + [{"PartNumber": 4, "ETag": md5_etag(b"never uploaded")}]
    assert s3_error(complete, unknown_part) == ("InvalidPart", 400)
    unordered = [good[0], good[2], good[1]]
    assert s3_error(complete, unordered) == ("InvalidPartOrder", 400)
    # The failed attempts left the upload usable.
    done = complete(good)
    assert done["ETag"] == multipart_etag(parts)
    assert done["Key"] == key

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"] == multipart_etag(parts)
    assert head["ContentLength"] == sum(map(len, parts))
    assert head["ContentType"] == "application/x-parts"
    assert head["Metadata"] == {"made": "by-hand"}
    assert sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == sha256(b"".join(parts))

    # A completed upload is gone.
    assert s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", []) == []
    assert s3_error(s3.list_parts, Bucket=bucket, Key=key, UploadId=upload_id) == ("NoSuchUpload", 404)


def test_small_non_last_part_is_entity_too_small(s3, bucket, prefix):
    key = prefix + "small.bin"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    small = [os.urandom(MIB), os.urandom(MIB)]
    etags = upload_parts(s3, bucket, key, upload_id, small, order=[1, 2])
    assert s3_error(
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2)]},
    ) == ("EntityTooSmall", 400)
    assert s3_error(s3.head_object, Bucket=bucket, Key=key) == ("404", 404)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def test_single_small_part_is_fine(s3, bucket, prefix):
    key = prefix + "one.bin"
    data = os.urandom(1000)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=data)["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert done["ETag"] == multipart_etag([data])
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def test_reuploaded_part_replaces_the_earlier_one(s3, bucket, prefix):
    key = prefix + "again.bin"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"first")
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"second")["ETag"]
    assert [p["ETag"] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]] == [etag]
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"second"


def test_part_numbers_outside_1_to_10000(s3, bucket, prefix):
    key = prefix + "numbers.bin"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number in (0, 10001):
        assert s3_error(
            s3.upload_part, Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=b"x"
        ) == ("InvalidArgument", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def test_abort(s3, bucket, prefix):
    key = prefix + "aborted.bin"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"part")["ETag"]
    assert s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)["ResponseMetadata"][
        "HTTPStatusCode"
    ] == 204
    assert s3_error(s3.list_parts, Bucket=bucket, Key=key, UploadId=upload_id) == ("NoSuchUpload", 404)
    assert s3_error(
        s3.upload_part, Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=b"late"
    ) == ("NoSuchUpload", 404)
    assert s3_error(
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    ) == ("NoSuchUpload", 404)
    assert s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", []) == []
    assert s3_error(s3.head_object, Bucket=bucket, Key=key) == ("404", 404)


def test_unknown_upload_id(s3, bucket, prefix):
    key = prefix + "nobody.bin"
    assert s3_error(
        s3.upload_part, Bucket=bucket, Key=key, UploadId="no-such-upload", PartNumber=1, Body=b"x"
    ) == ("NoSuchUpload", 404)
