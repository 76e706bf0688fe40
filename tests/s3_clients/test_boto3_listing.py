"""boto3: listing 2,500 keys with ListObjectsV2 and ListObjects (V1): pages, delimiter, markers."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from s3util import md5_etag, unique

DIRS = 20
PER_DIR = 120
TOP = 100  # 20 * 120 + 100 = 2,500 keys


@pytest.fixture(scope="module")
def tree(s3, bucket):
    """2,500 keys: <p>dir00/file0000 .. <p>dir19/file0119 and <p>top000 .. <p>top099."""
    root = unique("listing")
    keys = [f"{root}dir{d:02}/file{i:04}" for d in range(DIRS) for i in range(PER_DIR)]
    keys += [f"{root}top{i:03}" for i in range(TOP)]

    def put(key):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))
    return root, sorted(keys)


def test_v2_pages_of_1000(s3, bucket, tree):
    root, keys = tree
    seen, pages, token = [], [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix=root, **kwargs)
        pages.append(page)
        contents = page["Contents"]
        assert page["KeyCount"] == len(contents)
        assert page["MaxKeys"] == 1000
        assert page["Prefix"] == root
        seen += [c["Key"] for c in contents]
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
        assert token
    assert [len(p["Contents"]) for p in pages] == [1000, 1000, 500]
    assert seen == keys  # every key once, in UTF-8 binary order
    first = pages[0]["Contents"][0]
    assert first["Size"] == len(first["Key"].encode())
    assert first["ETag"] == md5_etag(first["Key"].encode())
    assert first["StorageClass"] == "STANDARD"
    assert "LastModified" in first


def test_v2_max_keys_is_capped_at_1000(s3, bucket, tree):
    root, keys = tree
    page = s3.list_objects_v2(Bucket=bucket, Prefix=root, MaxKeys=5000)
    assert len(page["Contents"]) == 1000
    assert page["IsTruncated"] is True


def test_v2_paginator(s3, bucket, tree):
    root, keys = tree
    paginator = s3.get_paginator("list_objects_v2")
    seen = [c["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=root, PaginationConfig={"PageSize": 300}) for c in page["Contents"]]
    assert seen == keys


def test_v2_delimiter_with_small_pages(s3, bucket, tree):
    root, keys = tree
    expected = [f"{root}dir{d:02}/" for d in range(DIRS)] + [f"{root}top{i:03}" for i in range(TOP)]
    seen, token, page_count = [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix=root, Delimiter="/", MaxKeys=7, **kwargs)
        page_count += 1
        prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        contents = [c["Key"] for c in page.get("Contents", [])]
        # KeyCount and MaxKeys count keys and common prefixes together.
        assert page["KeyCount"] == len(prefixes) + len(contents)
        assert page["KeyCount"] <= 7
        assert page["Delimiter"] == "/"
        seen += sorted(prefixes + contents)
        if not page["IsTruncated"]:
            break
        assert page["KeyCount"] == 7
        token = page["NextContinuationToken"]
    assert seen == expected
    assert page_count == -(-len(expected) // 7)


def test_v2_prefix_inside_a_folder(s3, bucket, tree):
    root, _ = tree
    page = s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}dir03/", Delimiter="/")
    assert [c["Key"] for c in page["Contents"]] == [f"{root}dir03/file{i:04}" for i in range(PER_DIR)]
    assert "CommonPrefixes" not in page
    assert page["IsTruncated"] is False


def test_v2_partial_prefix_groups_folders(s3, bucket, tree):
    root, _ = tree
    page = s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}dir0", Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == [f"{root}dir0{d}/" for d in range(10)]
    assert "Contents" not in page
    assert page["KeyCount"] == 10


def test_v2_start_after(s3, bucket, tree):
    root, _ = tree
    page = s3.list_objects_v2(Bucket=bucket, Prefix=root, StartAfter=f"{root}dir19/file0119")
    assert [c["Key"] for c in page["Contents"]] == [f"{root}top{i:03}" for i in range(TOP)]
    assert page["StartAfter"] == f"{root}dir19/file0119"


def test_v2_prefix_matching_nothing(s3, bucket, tree):
    root, _ = tree
    page = s3.list_objects_v2(Bucket=bucket, Prefix=f"{root}nothing-here/")
    assert page["KeyCount"] == 0
    assert "Contents" not in page
    assert page["IsTruncated"] is False


def test_v1_marker_paging(s3, bucket, tree):
    root, keys = tree
    seen, marker, sizes = [], "", []
    while True:
        page = s3.list_objects(Bucket=bucket, Prefix=root, Marker=marker)
        contents = [c["Key"] for c in page["Contents"]]
        sizes.append(len(contents))
        assert page.get("Marker", "") == marker
        seen += contents
        if not page["IsTruncated"]:
            break
        # Without a delimiter S3 sends no NextMarker: the last key is the next marker.
        marker = contents[-1]
    assert sizes == [1000, 1000, 500]
    assert seen == keys


def test_v1_delimiter_and_next_marker(s3, bucket, tree):
    root, _ = tree
    expected = [f"{root}dir{d:02}/" for d in range(DIRS)] + [f"{root}top{i:03}" for i in range(TOP)]
    seen, marker = [], ""
    while True:
        page = s3.list_objects(Bucket=bucket, Prefix=root, Delimiter="/", MaxKeys=9, Marker=marker)
        prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        contents = [c["Key"] for c in page.get("Contents", [])]
        assert len(prefixes) + len(contents) <= 9
        seen += sorted(prefixes + contents)
        if not page["IsTruncated"]:
            break
        # With a delimiter S3 sends NextMarker: the last key or common prefix of the page.
        assert page["NextMarker"] == seen[-1]
        marker = page["NextMarker"]
    assert seen == expected


def test_v1_paginator(s3, bucket, tree):
    root, keys = tree
    paginator = s3.get_paginator("list_objects")
    seen = [c["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=root, PaginationConfig={"PageSize": 700}) for c in page["Contents"]]
    assert seen == keys


def test_listing_keys_that_need_encoding(s3, bucket):
    # botocore asks for encoding-type=url and decodes what comes back.
    root = unique("encoded")
    names = ["a b", "a+b", "caf\u00e9", "per%cent", "amp&er", "tab\there", "x<y>z", "\u65e5\u672c"]
    for name in names:
        s3.put_object(Bucket=bucket, Key=root + name, Body=b"1")
    v2 = s3.list_objects_v2(Bucket=bucket, Prefix=root)
    assert [c["Key"] for c in v2["Contents"]] == sorted(root + n for n in names)
    v1 = s3.list_objects(Bucket=bucket, Prefix=root)
    assert [c["Key"] for c in v1["Contents"]] == sorted(root + n for n in names)
