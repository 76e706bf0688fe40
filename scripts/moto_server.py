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
"""
import re
import sys
import threading

import moto.server as server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_one_at_a_time = threading.Lock()
_S3_ROOTS = re.compile(rb"<(/?)(ListParts|CompleteMultipartUpload)Response\b")


class SerialisedApplication(DomainDispatcherApplication):
    def __call__(self, environ, start_response):
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
