"""The embedded endpoint's S3 events move assets through their lifecycle, whichever S3 call made
the object: PUT, multipart completion, copy; DeleteObject and DeleteObjects remove the record.
Checked through the REST API, polling (events are applied asynchronously)."""

import os

from s3util import api, create_asset, http, wait_for


def asset_key(created: dict) -> str:
    return f"assets/{created['id']}"


def test_presigned_upload_moves_the_asset_to_received():
    created = create_asset()
    status, _, _ = http("PUT", created["upload_url"], b"through the upload URL", created["upload_headers"])
    assert status == 200
    assert wait_for(created["id"], "RECEIVED")["size"] == len(b"through the upload URL")


def test_multipart_completion_moves_the_asset_to_received(s3, bucket):
    created = create_asset()
    key = asset_key(created)
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=part)["ETag"]
        for n, part in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]},
    )
    received = wait_for(created["id"], "RECEIVED")
    assert received["size"] == sum(map(len, parts))
    # And the lifecycle goes on as for any upload.
    assert api("PUT", f"/assets/{created['id']}") == (202, {"status": "UPLOADED"})


def test_copy_onto_an_asset_key_moves_it_to_received(s3, bucket, prefix):
    source = prefix + "source.bin"
    data = os.urandom(4000)
    s3.put_object(Bucket=bucket, Key=source, Body=data)
    created = create_asset()
    s3.copy_object(Bucket=bucket, Key=asset_key(created), CopySource={"Bucket": bucket, "Key": source})
    assert wait_for(created["id"], "RECEIVED")["size"] == len(data)


def test_delete_object_removes_the_asset(s3, bucket):
    created = create_asset()
    s3.put_object(Bucket=bucket, Key=asset_key(created), Body=b"short-lived")
    wait_for(created["id"], "RECEIVED")
    s3.delete_object(Bucket=bucket, Key=asset_key(created))
    wait_for(created["id"], None)
    assert api("GET", f"/assets/{created['id']}")[0] == 404


def test_delete_objects_removes_the_assets(s3, bucket):
    created = [create_asset() for _ in range(3)]
    for asset in created:
        s3.put_object(Bucket=bucket, Key=asset_key(asset), Body=b"batch")
    for asset in created:
        wait_for(asset["id"], "RECEIVED")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": asset_key(a)} for a in created]})
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(asset_key(a) for a in created)
    for asset in created:
        wait_for(asset["id"], None)
        assert api("GET", f"/assets/{asset['id']}")[0] == 404
