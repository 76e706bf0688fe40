#!/usr/bin/env python3
"""moto's server (same arguments as `moto_server`), processing one request at a time.

moto checks a DynamoDB condition expression and applies the write without a lock, so two
concurrent conditional writes to one item can both succeed, which DynamoDB never allows (the
store contract's racing-writers test caught it). Serialised, moto keeps DynamoDB's guarantee;
the tests are small, so the lost parallelism costs little.

moto 5.2 also names the root element of some S3 replies `...Response` where S3 says `...Result`
(`ListPartsResult`); botocore reads any root, the Rust SDK refuses the reply. Those roots are
renamed here to S3's. (moto does not report part checksums in ListParts either: the AWS-mode
tests upload parts without them.)

And moto keeps a single PUT's `x-amz-checksum-sha256` (returning it from HEAD with checksum mode
on) only when `x-amz-sdk-checksum-algorithm` comes with it, which a browser PUT to a presigned URL
does not send, and it never checks the value against the body. S3 does both: so does this (on a
whole-object PUT), answering a mismatch with S3's `BadDigest`.
"""
import base64
import hashlib
import io
import re
import sys
import threading

import moto.server as server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_one_at_a_time = threading.Lock()
_S3_ROOTS = re.compile(rb"<(/?)(ListParts|CompleteMultipartUpload)Response\b")


_BAD_DIGEST = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>BadDigest</Code>'
    b"<Message>The SHA256 you specified did not match the calculated checksum.</Message></Error>"
)


def _checksum_matches(environ):
    """Checks a whole-object PUT's `x-amz-checksum-sha256` as S3 does; False on a mismatch."""
    value = environ.get("HTTP_X_AMZ_CHECKSUM_SHA256")
    if (
        environ.get("REQUEST_METHOD") != "PUT"
        or not value
        or environ.get("HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM")
        or "partNumber=" in environ.get("QUERY_STRING", "")
        or "STREAMING" in environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")
    ):
        return True
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    if base64.b64encode(hashlib.sha256(body).digest()).decode() != value:
        return False
    environ["HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM"] = "SHA256"
    return True


class SerialisedApplication(DomainDispatcherApplication):
    def __call__(self, environ, start_response):
        if not _checksum_matches(environ):
            start_response("400 Bad Request", [("Content-Type", "application/xml")])
            return [_BAD_DIGEST]
        reply = {}

        def capture(status, headers, exc_info=None):
            reply["status"], reply["headers"] = status, headers
            return lambda data: None

        with _one_at_a_time:
            # Read the whole reply inside the lock: the write happens while it is produced.
            body = b"".join(super().__call__(environ, capture))
        fixed = _S3_ROOTS.sub(rb"<\1\2Result", body)
        headers = reply["headers"]
        if fixed != body:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(fixed))))
        start_response(reply["status"], headers)
        return [fixed]


server.DomainDispatcherApplication = SerialisedApplication
server.main(sys.argv[1:])
