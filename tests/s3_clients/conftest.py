"""Fixtures for the real-client tests against the embedded S3 endpoint.

scripts/s3_clients_test.sh starts the server and sets the environment these read:
ASSETS_S3_URL, ASSETS_API_URL, ASSETS_API_KEY, ASSETS_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
"""

import re

import pytest

from s3util import BUCKET, make_client, unique


@pytest.fixture(scope="session")
def s3():
    return make_client()


@pytest.fixture(scope="session")
def bucket():
    return BUCKET


@pytest.fixture
def prefix(request):
    """A key prefix no other test uses."""
    return unique(re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:40])
