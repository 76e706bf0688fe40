#!/usr/bin/env python3
"""moto's server (same arguments as `moto_server`), processing one request at a time.

moto checks a DynamoDB condition expression and applies the write without a lock, so two
concurrent conditional writes to one item can both succeed, which DynamoDB never allows (the
store contract's racing-writers test caught it). Serialised, moto keeps DynamoDB's guarantee;
the tests are small, so the lost parallelism costs little.
"""
import sys
import threading

import moto.server as server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_one_at_a_time = threading.Lock()


class SerialisedApplication(DomainDispatcherApplication):
    def __call__(self, environ, start_response):
        with _one_at_a_time:
            # Read the whole reply inside the lock: the write happens while it is produced.
            return list(super().__call__(environ, start_response))


server.DomainDispatcherApplication = SerialisedApplication
server.main(sys.argv[1:])
