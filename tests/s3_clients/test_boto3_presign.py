"""boto3: presigned URLs (generate_presigned_url) used with plain HTTP, their limits, and a
signature scoped to the wrong region.

boto3 presigns with Signature Version 2 against a custom endpoint unless told otherwise, so the
clients here ask for SigV4 (`signature_version="s3v4"`), as S3-compatible servers' docs say."""

import os
import urllib.parse

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3util import ACCESS_KEY, S3_URL, SECRET_KEY, http, make_client, md5_etag, sha256, xml_field


@pytest.fixture(scope="module")
def presigner():
    return make_client(signature_version="s3v4")


def test_presigned_put_then_get(s3, presigner, bucket, prefix):
    key = prefix + "presigned file.bin"
    data = os.urandom(200_000)
    put_url = presigner.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    status, headers, _ = http("PUT", put_url, data)
    assert status == 200
    assert headers["ETag"] == md5_etag(data)

    get_url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    status, headers, body = http("GET", get_url)
    assert status == 200
    assert sha256(body) == sha256(data)


def test_presigned_get_with_response_overrides(s3, presigner, bucket, prefix):
    key = prefix + "report.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"report")
    url = presigner.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": 'attachment; filename="r.txt"'},
        ExpiresIn=60,
    )
    status, headers, body = http("GET", url)
    assert status == 200
    assert headers["Content-Disposition"] == 'attachment; filename="r.txt"'
    assert body == b"report"


def test_presigned_url_tampered_key_is_refused(s3, presigner, bucket, prefix):
    key = prefix + "signed.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"signed")
    s3.put_object(Bucket=bucket, Key=key + "2", Body=b"other")
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
    parsed = urllib.parse.urlsplit(url)
    tampered = parsed._replace(path=parsed.path + "2").geturl()
    status, _, body = http("GET", tampered)
    assert status == 403
    assert xml_field(body, "Code") == "SignatureDoesNotMatch"


def test_expiry_over_seven_days_is_refused(s3, presigner, bucket, prefix):
    key = prefix + "long.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=604801)
    assert "X-Amz-Expires=604801" in url
    status, _, body = http("GET", url)
    assert status == 403
    assert xml_field(body, "Code") == "AuthorizationQueryParametersError"
    # Exactly seven days is allowed.
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=604800)
    assert http("GET", url)[0] == 200


def test_negative_expiry_is_refused(s3, bucket, prefix):
    key = prefix + "negative.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # boto3's CRT signer refuses to make such a URL; botocore's own SigV4 query signer does not.
    request = AWSRequest(method="GET", url=f"{S3_URL}/{bucket}/{urllib.parse.quote(key)}")
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1", expires=-1).add_auth(request)
    url = request.url
    assert "X-Amz-Expires=-1" in url
    status, _, _ = http("GET", url)
    assert status == 403


def test_presigned_url_for_another_region_is_refused(bucket, prefix, s3):
    key = prefix + "regional.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    elsewhere = make_client(region="eu-west-1", signature_version="s3v4")
    url = elsewhere.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
    assert "%2Feu-west-1%2Fs3%2Faws4_request" in url
    status, _, body = http("GET", url)
    assert 400 <= status < 500, (status, body)


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_header_signature_for_another_region_is_refused(bucket, prefix, s3, method):
    key = prefix + "regional.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"original")
    url = f"{S3_URL}/{bucket}/{urllib.parse.quote(key)}"
    body = b"changed" if method == "PUT" else None
    request = AWSRequest(method=method, url=url, data=body, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "eu-west-1").add_auth(request)
    assert "/eu-west-1/s3/aws4_request" in request.headers["Authorization"]
    status, _, reply = http(method, url, body, dict(request.headers))
    assert 400 <= status < 500, (status, reply)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"original"
    # The same request signed for us-east-1 goes through.
    request = AWSRequest(method=method, url=url, data=body, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    status, _, reply = http(method, url, body, dict(request.headers))
    assert status == 200, (status, reply)
