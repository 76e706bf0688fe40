"""aws-cli (`aws s3 ...`, its default settings: 8 MiB multipart threshold and parts, 10
concurrent requests) against the embedded endpoint: every command exits 0 and every byte
comes back identical (SHA-256)."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from s3util import MIB, S3_URL, random_file, s3_error, sha256_file, tree_hashes

AWS = shutil.which("aws")


def aws(*args, read_timeout=20, timeout=600, env=None) -> str:
    """Runs `aws ...` against the endpoint; the command must exit 0. Returns its stdout. A read
    timeout of 20 s (not aws-cli's 60) bounds what a stalled request costs before its retry."""
    done = subprocess.run(
        [AWS, "--endpoint-url", S3_URL, "--cli-read-timeout", str(read_timeout), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    last = (done.stderr.strip().splitlines() or [""])[-1]
    assert done.returncode == 0, f"aws {' '.join(args)} exited {done.returncode}: {last}\n{done.stderr}{done.stdout}"
    return done.stdout


@pytest.mark.parametrize("size_mib, parts", [(1, 0), (30, 4), (200, 25)], ids=["1MiB", "30MiB", "200MiB"])
def test_cp_up_and_down(s3, bucket, prefix, tmp_path, size_mib, parts):
    source = random_file(tmp_path / f"{size_mib}.bin", size_mib * MIB)
    url = f"s3://{bucket}/{prefix}{size_mib}.bin"
    aws("s3", "cp", "--no-progress", str(source), url)
    head = s3.head_object(Bucket=bucket, Key=f"{prefix}{size_mib}.bin")
    assert head["ContentLength"] == size_mib * MIB
    if parts:  # uploaded in 8 MiB parts
        assert head["ETag"].endswith(f'-{parts}"'), head["ETag"]
    else:
        assert "-" not in head["ETag"]
    target = tmp_path / "down.bin"
    aws("s3", "cp", "--no-progress", url, str(target))  # over 8 MiB: parallel ranged GETs
    assert sha256_file(target) == sha256_file(source)
    source.unlink()
    target.unlink()


def test_ls(bucket, prefix, tmp_path):
    sizes = {"a.bin": 10, "b.bin": 2000, "sub/c.bin": 30}
    for name, size in sizes.items():
        random_file(tmp_path / name, size)
        aws("s3", "cp", "--no-progress", str(tmp_path / name), f"s3://{bucket}/{prefix}{name}")
    assert bucket in aws("s3", "ls").split()
    # `aws s3 ls s3://b/p/`: "PRE sub/" and "<date> <time> <size> <name>" lines.
    lines = aws("s3", "ls", f"s3://{bucket}/{prefix}").splitlines()
    assert [line.split() for line in lines if "PRE" in line] == [["PRE", "sub/"]]
    files = {line.split()[3]: int(line.split()[2]) for line in lines if "PRE" not in line}
    assert files == {"a.bin": 10, "b.bin": 2000}
    recursive = aws("s3", "ls", "--recursive", f"s3://{bucket}/{prefix}").splitlines()
    assert {line.split()[3]: int(line.split()[2]) for line in recursive} == {prefix + n: s for n, s in sizes.items()}


def make_folder(root: Path) -> Path:
    """50 files in nested folders, sizes from 0 bytes to ~300 KiB, last modified an hour ago.
    (aws s3 sync uploads a file again when its mtime is later than the object's Last-Modified,
    which S3 reports in whole seconds: a file written in the same second as its upload would
    look newer.)"""
    an_hour_ago = time.time() - 3600
    for i in range(50):
        path = random_file(root / f"d{i % 5}" / (f"e{i % 2}" if i % 3 else "") / f"file {i:02}.dat", (i * 6151) % 300_000)
        os.utime(path, (an_hour_ago, an_hour_ago))
    return root


def test_sync_both_ways(bucket, prefix, tmp_path):
    local = make_folder(tmp_path / "up")
    url = f"s3://{bucket}/{prefix}synced/"
    out = aws("s3", "sync", "--no-progress", str(local), url)
    assert out.count("upload:") == 50
    back = tmp_path / "down"
    out = aws("s3", "sync", "--no-progress", url, str(back))
    assert out.count("download:") == 50
    assert tree_hashes(back) == tree_hashes(local)
    # Nothing changed: both directions have nothing to do (sizes and times agree).
    assert aws("s3", "sync", "--no-progress", str(local), url) == ""
    assert aws("s3", "sync", "--no-progress", url, str(back)) == ""
    # One changed file, one deleted with --delete: exactly those are synced.
    random_file(local / "d1" / "e1" / "file 01.dat", 1234)
    (local / "d2" / "e0" / "file 02.dat").unlink()
    out = aws("s3", "sync", "--no-progress", "--delete", str(local), url)
    assert sorted(line.split(":")[0] for line in out.splitlines()) == ["delete", "upload"]
    out = aws("s3", "sync", "--no-progress", "--delete", url, str(back))
    assert sorted(line.split(":")[0] for line in out.splitlines()) == ["delete", "download"]
    assert tree_hashes(back) == tree_hashes(local)
    assert len(tree_hashes(back)) == 49


def test_mv(s3, bucket, prefix, tmp_path):
    source = random_file(tmp_path / "moving.bin", MIB)
    digest = sha256_file(source)
    first, second = f"{prefix}first.bin", f"{prefix}moved/second.bin"
    aws("s3", "mv", "--no-progress", str(source), f"s3://{bucket}/{first}")
    assert not source.exists()
    aws("s3", "mv", "--no-progress", f"s3://{bucket}/{first}", f"s3://{bucket}/{second}")
    assert s3_error(s3.head_object, Bucket=bucket, Key=first) == ("404", 404)
    back = tmp_path / "back.bin"
    aws("s3", "mv", "--no-progress", f"s3://{bucket}/{second}", str(back))
    assert s3_error(s3.head_object, Bucket=bucket, Key=second) == ("404", 404)
    assert sha256_file(back) == digest


def test_rm_recursive(s3, bucket, prefix, tmp_path):
    local = make_folder(tmp_path / "doomed")
    aws("s3", "sync", "--no-progress", str(local), f"s3://{bucket}/{prefix}")
    s3.put_object(Bucket=bucket, Key=prefix.rstrip("/") + "-sibling", Body=b"stays")
    out = aws("s3", "rm", "--recursive", f"s3://{bucket}/{prefix}")
    assert out.count("delete:") == 50
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0
    assert s3.get_object(Bucket=bucket, Key=prefix.rstrip("/") + "-sibling")["Body"].read() == b"stays"


def test_s3api_put_and_get(bucket, prefix, tmp_path):
    source = random_file(tmp_path / "api.bin", 5000)
    aws("s3api", "put-object", "--bucket", bucket, "--key", prefix + "api.bin", "--body", str(source))
    target = tmp_path / "api-back.bin"
    aws("s3api", "get-object", "--bucket", bucket, "--key", prefix + "api.bin", str(target))
    assert sha256_file(target) == sha256_file(source)


def test_empty_file_then_another_on_one_connection(s3, bucket, prefix, tmp_path):
    # aws-cli sends `Expect: 100-continue` with every upload. If the server answers an empty
    # upload without a `100 Continue` and keeps the connection open, the botocore inside
    # aws-cli 1.46 misreads the next response on that connection and waits for its read timeout
    # (60 s by default). S3 sends `100 Continue` here; one connection and no retries show it.
    random_file(tmp_path / "up" / "a-empty", 0)
    random_file(tmp_path / "up" / "b-full", 6151)
    config = tmp_path / "one-connection.cfg"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    max_concurrent_requests = 1\n")
    env = {**os.environ, "AWS_CONFIG_FILE": str(config), "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
    aws("s3", "sync", "--no-progress", str(tmp_path / "up"), f"s3://{bucket}/{prefix}", read_timeout=5, env=env)
    assert s3.head_object(Bucket=bucket, Key=prefix + "b-full")["ContentLength"] == 6151
    assert s3.head_object(Bucket=bucket, Key=prefix + "a-empty")["ContentLength"] == 0


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)  # big files go as soon as a test ends


def test_environment_points_at_the_endpoint():
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert AWS, "aws is not on PATH"
