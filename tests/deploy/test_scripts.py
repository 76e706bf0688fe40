"""The deployment scripts, short of AWS: scripts/package-lambda.sh's zip (layout, glibc bound),
scripts/package-image.sh's build context, scripts/deploy.sh's argument handling and the exact
aws commands of --dry-run, and `aws cloudformation package` for real against moto's S3.
Packaging uses the debug server binary (scripts/test.sh builds it first) as `bootstrap`."""

import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SERVER = os.path.join(TARGET, "debug", "server")
VENVS = os.path.expanduser("~/.cache/assets-service")
CLIENTS_VENV = os.environ.get("ASSETS_CLIENTS_VENV", os.path.join(VENVS, "clients-venv"))
MOTO_VENV = os.environ.get("ASSETS_VENV", os.path.join(VENVS, "venv"))
CFN_LINT = os.path.join(os.path.dirname(sys.executable), "cfn-lint")


def run(*args, env=None, check=False):
    result = subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def server():
    if not os.access(SERVER, os.X_OK):
        pytest.fail(f"no debug server at {SERVER}: build it first (cargo leptos build)")
    return SERVER


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "assets.js").write_text("export default 1;\n")
    (site / "pkg" / "assets.wasm").write_bytes(b"\0asm\1\0\0\0")
    (site / "favicon.ico").write_bytes(b"icon")
    return site


def test_lambda_zip_holds_bootstrap_and_site(server, site, tmp_path):
    out = tmp_path / "out" / "assets.zip"
    result = run("scripts/package-lambda.sh", "--binary", server, "--site", site, "--out", out, check=True)
    assert result.stdout.strip() == str(out)
    with zipfile.ZipFile(out) as z:
        names = {n.rstrip("/") for n in z.namelist()}
        assert {"bootstrap", "site/pkg/assets.js", "site/pkg/assets.wasm", "site/favicon.ico"} <= names
        assert all(n == "bootstrap" or n.startswith("site") for n in names), names
        mode = z.getinfo("bootstrap").external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o755 == 0o755, oct(mode)
        z.extractall(tmp_path / "task")
    # Stripped, it still runs (Lambda starts /var/task/bootstrap).
    bootstrap = tmp_path / "task" / "bootstrap"
    os.chmod(bootstrap, 0o755)
    assert os.path.getsize(bootstrap) < os.path.getsize(server)
    assert run(bootstrap, "--help", check=True).stdout
    needed = re.search(r"needs glibc (\S+)", result.stderr).group(1)
    assert tuple(map(int, needed.split("."))) <= (2, 34)


def compile_c(tmp_path, source):
    c = tmp_path / "prog.c"
    c.write_text(source)
    binary = tmp_path / "prog"
    run("cc", "-O0", "-o", binary, c, check=True)
    return binary


def test_lambda_zip_refuses_a_binary_needing_newer_glibc(site, tmp_path):
    # arc4random is new in glibc 2.36 (this Debian's); provided.al2023 has 2.34.
    binary = compile_c(
        tmp_path,
        "#include <stdlib.h>\n#include <stdio.h>\nint main(void) { printf(\"%u\\n\", arc4random()); return 0; }\n",
    )
    out = tmp_path / "a.zip"
    result = run("scripts/package-lambda.sh", "--binary", binary, "--site", site, "--out", out)
    assert result.returncode == 1
    assert "needs glibc 2.36; provided.al2023 has 2.34" in result.stderr
    assert not out.exists()
    # The same program without it packages.
    plain = compile_c(tmp_path, "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
    run("scripts/package-lambda.sh", "--binary", plain, "--site", site, "--out", out, check=True)
    assert out.exists()


def test_lambda_zip_needs_a_site(server, tmp_path):
    result = run("scripts/package-lambda.sh", "--binary", server, "--site", tmp_path / "none", "--out", tmp_path / "a.zip")
    assert result.returncode == 1 and "no site at" in result.stderr


def test_image_context_has_what_the_dockerfile_copies(server, site, tmp_path):
    out = tmp_path / "image"
    result = run("scripts/package-image.sh", "--binary", server, "--site", site, "--out", out, check=True)
    assert result.stdout.strip() == str(out)
    dockerfile = (out / "Dockerfile").read_text()
    sources = re.findall(r"^COPY (?:--\S+ )*(\S+) \S+$", dockerfile, re.M)
    assert sources == ["server", "site"]
    for source in sources:
        assert (out / source).exists(), source
    assert os.access(out / "server", os.X_OK)
    assert (out / "site" / "pkg" / "assets.js").exists()
    user = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n.*http://127\.0\.0\.1:3000/healthz", dockerfile, re.M)
    assert "ca-certificates" in dockerfile
    assert re.search(r"^ENV (.|\n)*ASSETS_LISTEN=0\.0\.0\.0:3000", dockerfile, re.M)


BAD_ARGUMENTS = [
    ([], "--stack is required"),
    (["--stack", "s"], "--bucket is required"),
    (["--stack", "s", "--bucket", "Not_A_Bucket"], "is not a valid bucket name"),
    (["--stack", "s", "--bucket", "b-1"], "--artifacts-bucket is required"),
    (["--stack", "1s", "--bucket", "b-1", "--artifacts-bucket", "a"], "starting with a letter"),
    (["--stack", "s", "--bucket", "b-1", "--artifacts-bucket", "a", "--mode", "vm"], "serverless or replicas"),
    (["--stack", "s", "--bucket", "b-1", "--artifacts-bucket", "a", "--mode", "replicas"], "needs --image"),
    (["--stack", "s", "--bucket", "b-1", "--artifacts-bucket", "a", "--mode", "replicas", "--image", "i",
      "--vpc", "vpc-1", "--public-subnets", "a,b"], "needs --task-subnets"),
    (["--stack", "s", "--bucket", "b-1", "--artifacts-bucket", "a", "--image", "i"], "ReplicaImage is for --mode replicas"),
    (["--stack", "s", "--bucket", "b-1", "--artifacts-bucket", "a", "--dry-run", "--origins"], "--origins needs a value"),
    (["--stack", "s", "--bucket", "b-1", "--artifacts-bucket", "a", "--colour", "red"], "unknown argument: --colour"),
]


@pytest.mark.parametrize("args,message", BAD_ARGUMENTS)
def test_deploy_refuses_bad_arguments_before_building(args, message):
    started = time.monotonic()
    result = run("scripts/deploy.sh", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert time.monotonic() - started < 10  # nothing was built


def dry_run(server, site, *args):
    result = run("scripts/deploy.sh", "--dry-run", "--no-build", "--lambda-binary", server, "--site", site, *args, check=True)
    lines = [shlex.split(line) for line in result.stdout.strip().splitlines()]
    assert len(lines) == 3, result.stdout
    return lines


def overrides(command):
    values = command[command.index("--parameter-overrides") + 1:]
    return dict(v.split("=", 1) for v in values)


def test_deploy_dry_run_prints_the_commands_serverless(server, site):
    package, deploy, outputs = dry_run(
        server, site, "--stack", "demo", "--bucket", "demo-objects", "--artifacts-bucket", "art",
        "--region", "eu-west-1", "--origins", "https://a.example,https://b.example",
        "--upload-url-ttl", "600", "--metrics-token-secret", "arn:aws:secretsmanager:eu-west-1:1:secret:m",
    )
    packaged = os.path.join(ROOT, "target", "lambda", "packaged.yaml")
    assert package == ["aws", "--region", "eu-west-1", "cloudformation", "package", "--template-file",
                       "deploy/template.yaml", "--s3-bucket", "art", "--s3-prefix", "demo",
                       "--output-template-file", packaged]
    assert deploy[:9] == ["aws", "--region", "eu-west-1", "cloudformation", "deploy", "--template-file",
                          packaged, "--stack-name", "demo"]
    assert "CAPABILITY_IAM" in deploy and "CAPABILITY_AUTO_EXPAND" in deploy
    assert overrides(deploy) == {
        "Mode": "serverless", "BucketName": "demo-objects",
        "AllowedOrigins": "https://a.example,https://b.example", "UploadUrlTtl": "600",
        "MetricsTokenSecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:m",
    }
    assert outputs[:6] == ["aws", "--region", "eu-west-1", "cloudformation", "describe-stacks", "--stack-name"]
    # The zip the template's CodeUri names was written.
    with zipfile.ZipFile(os.path.join(ROOT, "target", "lambda", "assets.zip")) as z:
        assert "bootstrap" in z.namelist()


def test_deploy_dry_run_replicas_and_every_parameter_is_the_templates(server, site):
    from cfnlint.decode import decode

    _, deploy, _ = dry_run(
        server, site, "--stack", "demo", "--bucket", "demo-objects", "--artifacts-bucket", "art",
        "--mode", "replicas", "--image", "1.dkr.ecr.us-east-1.amazonaws.com/assets:1", "--vpc", "vpc-0123abcd",
        "--public-subnets", "subnet-a,subnet-b", "--task-subnets", "subnet-c", "--replicas", "3",
        "--certificate-arn", "arn:aws:acm:us-east-1:1:certificate/x", "--public-url", "https://assets.example",
        "--log-retention-days", "7", "--abort-uploads-after-days", "3", "--max-upload-bytes", "1000", "--reconcile-schedule", "rate(1 minute)",
        "--task-public-ip", "DISABLED",
    )
    given = overrides(deploy)
    assert given["Mode"] == "replicas" and given["ReplicaCount"] == "3"
    assert given["PublicSubnetIds"] == "subnet-a,subnet-b"
    template, _ = decode(os.path.join(ROOT, "deploy", "template.yaml"))
    params = template["Parameters"]
    assert set(given) <= set(params), set(given) - set(params)
    for name, value in given.items():
        allowed = params[name].get("AllowedValues")
        assert allowed is None or value in [str(a) for a in allowed], (name, value)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto():
    """moto at ASSETS_TEST_MOTO_URL (scripts/test.sh starts one), else one of our own. Missing
    moto is a failure, never a skip."""
    url = os.environ.get("ASSETS_TEST_MOTO_URL")
    child = None
    if not url:
        port = free_port()
        child = subprocess.Popen(
            [os.path.join(MOTO_VENV, "bin", "python"), "scripts/moto_server.py", "-H", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=2)
                break
            except OSError:
                assert child.poll() is None, "moto_server exited"
                time.sleep(0.2)
    yield url
    if child:
        child.terminate()
        child.wait()


def test_cloudformation_package_uploads_the_zip_to_s3(server, site, moto, tmp_path):
    aws = os.path.join(CLIENTS_VENV, "bin", "aws")
    assert os.access(aws, os.X_OK), f"no aws CLI at {aws} (scripts/setup.sh test)"
    env = dict(os.environ, PATH=os.path.dirname(aws) + os.pathsep + os.environ["PATH"],
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL_S3=moto, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    env.pop("AWS_PROFILE", None)
    artifacts = f"artifacts-{os.getpid()}-{time.time_ns()}"
    run(aws, "s3", "mb", f"s3://{artifacts}", env=env, check=True)
    result = run("scripts/deploy.sh", "--package-only", "--no-build", "--lambda-binary", server, "--site", site,
                 "--stack", "demo", "--bucket", "demo-objects", "--artifacts-bucket", artifacts, env=env, check=True)
    deploy = shlex.split(result.stdout.strip().splitlines()[-1])
    assert deploy[1:3] == ["cloudformation", "deploy"]
    packaged = os.path.join(ROOT, "target", "lambda", "packaged.yaml")
    uris = set(re.findall(r"CodeUri: (\S+)", open(packaged).read()))
    # Every function names the one uploaded zip, byte for byte the packaged one.
    assert len(uris) == 1 and open(packaged).read().count("CodeUri: s3://") == 3, uris
    uri = uris.pop()
    assert uri.startswith(f"s3://{artifacts}/demo/")
    downloaded = tmp_path / "downloaded.zip"
    run(aws, "s3", "cp", uri, downloaded, env=env, check=True)
    assert downloaded.read_bytes() == open(os.path.join(ROOT, "target", "lambda", "assets.zip"), "rb").read()
    # What CloudFormation receives still lints clean.
    lint = run(CFN_LINT, packaged)
    assert lint.returncode == 0, lint.stdout + lint.stderr
