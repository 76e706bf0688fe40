"""rclone (Debian's) against the embedded endpoint, configured only by environment variables
(remote `emb:`, type s3, provider Other, path-style): copy, ls, check (size and MD5) of a tree,
and a multi-thread (ranged, parallel) download of a 300 MiB file."""

import os
import subprocess
from pathlib import Path

import pytest

from s3util import ACCESS_KEY, MIB, S3_URL, SECRET_KEY, random_file, sha256_file, tree_hashes

ENV = {
    # A CA bundle means nothing to a plain-HTTP endpoint, and rclone refuses to start with one.
    **{k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
    "RCLONE_CONFIG_EMB_TYPE": "s3",
    "RCLONE_CONFIG_EMB_PROVIDER": "Other",
    "RCLONE_CONFIG_EMB_ENDPOINT": S3_URL,
    "RCLONE_CONFIG_EMB_REGION": "us-east-1",
    "RCLONE_CONFIG_EMB_ACCESS_KEY_ID": ACCESS_KEY,
    "RCLONE_CONFIG_EMB_SECRET_ACCESS_KEY": SECRET_KEY,
    "RCLONE_CONFIG_EMB_FORCE_PATH_STYLE": "true",
}


def rclone(*args, ok=True, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["rclone", "--s3-force-path-style", "--retries", "1", "--low-level-retries", "1", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )
    if ok:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "Failed" in line]
        assert done.returncode == 0, f"rclone {' '.join(args)} exited {done.returncode}: {errors[-1:]}\n{done.stderr}"
    return done


def make_tree(root: Path) -> Path:
    sizes = [0, 1, 1000, 100_000, 6 * MIB + 5]
    for d in range(3):
        for i, size in enumerate(sizes):
            random_file(root / f"dir{d}" / f"file{i}.bin", size)
    random_file(root / "caf\u00e9 cr\u00e8me" / "na\u00efve file+1.txt", 4321)
    random_file(root / "top.bin", 77)
    return root


def test_copy_ls_check_a_tree(s3, bucket, prefix, tmp_path):
    local = make_tree(tmp_path / "tree")
    remote = f"emb:{bucket}/{prefix}tree"
    rclone("copy", str(local), remote)

    listed = rclone("ls", remote).stdout.splitlines()
    got = {line.strip().split(" ", 1)[1]: int(line.strip().split(" ", 1)[0]) for line in listed}
    expected = {p.relative_to(local).as_posix(): p.stat().st_size for p in local.rglob("*") if p.is_file()}
    assert got == expected

    check = rclone("check", str(local), remote)
    assert "0 differences found" in check.stderr
    assert "hashes could not be checked" not in check.stderr  # MD5s were compared, not only sizes

    back = tmp_path / "back"
    rclone("copy", remote, str(back))
    assert tree_hashes(back) == tree_hashes(local)

    # check really compares contents: same size, other bytes -> a difference, exit code 1.
    key = f"{prefix}tree/dir1/file2.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(1000))
    changed = rclone("check", str(local), remote, ok=False)
    assert changed.returncode == 1, changed.stderr
    assert "1 differences found" in changed.stderr


def test_multi_thread_download_of_300_mib(bucket, prefix, tmp_path):
    source = random_file(tmp_path / "big.bin", 300 * MIB)
    remote = f"emb:{bucket}/{prefix}big.bin"
    rclone("copyto", str(source), remote)  # over rclone's 200 MiB cutoff: a multipart upload
    target = tmp_path / "big-back.bin"
    done = rclone(
        "copyto", "-vv", "--multi-thread-streams", "4", "--multi-thread-cutoff", "1M", remote, str(target)
    )
    assert "multi-thread copy" in done.stderr, "rclone did not download with multiple streams"
    assert sha256_file(target) == sha256_file(source)
    rclone("check", str(source.parent), f"emb:{bucket}/{prefix}", "--include", "big.bin")


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path):
    yield
    for path in sorted(tmp_path.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
