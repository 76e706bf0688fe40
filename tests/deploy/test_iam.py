"""One list of AWS permissions: the actions the server's code calls (found by scanning
server/src for aws-sdk-dynamodb / aws-sdk-s3 operations) must equal the actions the template
grants its runtime roles and the README's IAM list. `init-aws` (server/src/provision.rs) is a
separate list: the template creates those resources itself, so no runtime role gets them.
Also: the template's tables are the ones provision.rs creates (names of keys, indexes, TTL)."""

import glob
import os
import re

import pytest
from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "server", "src")
TEMPLATE = os.path.join(ROOT, "deploy", "template.yaml")
README = os.path.join(ROOT, "README.md")
PROVISION = "provision.rs"

# Every SDK operation the code may call, and the IAM actions it needs. A presigned request
# needs the action of the request it authorises. An operation missing here fails the test:
# classify it (https://docs.aws.amazon.com/service-authorization/latest/reference/).
ACTIONS = {
    "dynamodb": {
        "get_item": ["dynamodb:GetItem"],
        "put_item": ["dynamodb:PutItem"],
        "update_item": ["dynamodb:UpdateItem"],
        "delete_item": ["dynamodb:DeleteItem"],
        "query": ["dynamodb:Query"],
        "scan": ["dynamodb:Scan"],
        "describe_table": ["dynamodb:DescribeTable"],
        "batch_get_item": ["dynamodb:BatchGetItem"],
        "batch_write_item": ["dynamodb:BatchWriteItem"],
        "transact_write_items": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
        "create_table": ["dynamodb:CreateTable"],
        "update_table": ["dynamodb:UpdateTable"],
        "update_time_to_live": ["dynamodb:UpdateTimeToLive"],
    },
    "s3": {
        "put_object": ["s3:PutObject"],
        "get_object": ["s3:GetObject"],
        # HEAD needs GetObject; ListBucket makes a missing key 404 instead of 403.
        "head_object": ["s3:GetObject", "s3:ListBucket"],
        "head_bucket": ["s3:ListBucket"],
        "delete_object": ["s3:DeleteObject"],
        "create_multipart_upload": ["s3:PutObject"],
        "upload_part": ["s3:PutObject"],
        "complete_multipart_upload": ["s3:PutObject"],
        "abort_multipart_upload": ["s3:AbortMultipartUpload"],
        "list_parts": ["s3:ListMultipartUploadParts"],
        "list_multipart_uploads": ["s3:ListBucketMultipartUploads"],
        "list_objects_v2": ["s3:ListBucket"],
        "copy_object": ["s3:GetObject", "s3:PutObject"],
        "create_bucket": ["s3:CreateBucket"],
        "put_bucket_cors": ["s3:PutBucketCORS"],
        "get_bucket_lifecycle_configuration": ["s3:GetLifecycleConfiguration"],
        "put_bucket_lifecycle_configuration": ["s3:PutLifecycleConfiguration"],
    },
}

# Every `.name()` call whose name is an SDK operation's counts as that operation (a builder
# may be sent statements later), except these, which are other types' methods (by file,
# relative to server/src). A new same-named method elsewhere must be listed here.
NOT_SDK = {
    ("embedded_s3/signature.rs", "query"),  # http::Uri::query
    ("http/mod.rs", "query"),  # http::Uri::query
}


def _crate_dir(name):
    lock = open(os.path.join(ROOT, "Cargo.lock")).read()
    version = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock).group(1)
    cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    found = glob.glob(os.path.join(cargo_home, "registry", "src", "*", f"{name}-{version}"))
    assert found, f"{name} {version} is not in {cargo_home}/registry (run `cargo fetch` first)"
    return found[0]


def sdk_operations(crate):
    """The operation names of an SDK crate's Client, read from the crate's source."""
    ops = set()
    for path in glob.glob(os.path.join(_crate_dir(crate), "src", "client", "*.rs")):
        pattern = r"pub fn (\w+)\(\s*&self,?\s*\)\s*->\s*crate::operation::"
        ops |= set(re.findall(pattern, open(path).read()))
    # Each operation also has its module under src/operation/: the two must agree.
    modules = {os.path.basename(os.path.dirname(p))
               for p in glob.glob(os.path.join(_crate_dir(crate), "src", "operation", "*", ""))}
    assert ops == modules, sorted(ops ^ modules)
    assert len(ops) > 20, f"found only {ops} in {crate}"
    return ops


def sources():
    """(path relative to server/src, text before any `#[cfg(test)]`) of every Rust file."""
    for path in sorted(glob.glob(os.path.join(SRC, "**", "*.rs"), recursive=True)):
        text = open(path).read().split("#[cfg(test)]")[0]
        yield os.path.relpath(path, SRC), text


def code_calls():
    """{(service, operation, file)} of every SDK call in server/src (tests left out)."""
    services = {"dynamodb": sdk_operations("aws-sdk-dynamodb"), "s3": sdk_operations("aws-sdk-s3")}
    names = set().union(*services.values())
    calls = set()
    for rel, text in sources():
        for m in re.finditer(r"\.(\w+)\(\)", text):
            op = m.group(1)
            if op not in names or (rel, op) in NOT_SDK:
                continue
            owners = [s for s, ops in services.items() if op in ops]
            if len(owners) > 1:
                owners = [s for s in owners if f"aws_sdk_{s}" in text]
            assert len(owners) == 1, f"{rel}: cannot tell which SDK .{op}() belongs to"
            calls.add((owners[0], op, rel))
    return calls


def actions_of(calls):
    actions, unknown = set(), []
    for service, op, rel in calls:
        if op not in ACTIONS[service]:
            unknown.append(f"{service} {op} ({rel})")
        else:
            actions |= set(ACTIONS[service][op])
    assert not unknown, f"classify these SDK operations in ACTIONS: {unknown}"
    return actions


@pytest.fixture(scope="module")
def calls():
    return code_calls()


@pytest.fixture(scope="module")
def template():
    tpl, matches = decode(TEMPLATE)
    assert not matches, matches
    return tpl


def runtime_actions(calls):
    return actions_of({c for c in calls if c[2] != PROVISION})


def statements(doc):
    return doc.get("Statement", [])


def as_list(value):
    return value if isinstance(value, list) else [value]


def role_policies(template):
    """{resource name: [statements]} of the roles the server's code runs under: every
    function's inline policies and every task definition's task role."""
    resources = template["Resources"]
    roles = {}
    for name, res in resources.items():
        if res["Type"] == "AWS::Serverless::Function":
            policies = res["Properties"].get("Policies", [])
            assert isinstance(policies, list)
            roles[name] = [s for p in policies for s in statements(p)]
        if res["Type"] == "AWS::ECS::TaskDefinition":
            role = res["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
            props = resources[role]["Properties"]
            assert "ManagedPolicyArns" not in props, f"{role}: managed policies grant more"
            roles[role] = [s for p in props["Policies"] for s in statements(p["PolicyDocument"])]
    return roles


def readme_list(marker):
    text = open(README).read()
    m = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", text, re.S)
    assert m, f"README.md has no <!-- {marker} --> ... <!-- /{marker} --> list"
    rows = [line for line in m.group(1).splitlines() if line.startswith("| `")]
    return {re.match(r"\| `([^`]+)`", row).group(1) for row in rows}


def test_code_calls_are_found(calls):
    """The scan sees the calls it must (a scan that finds nothing would pass vacuously)."""
    ops = {(s, o) for s, o, _ in calls}
    assert {("dynamodb", "update_item"), ("s3", "put_object"), ("s3", "head_object")} <= ops
    assert ("s3", "put_bucket_lifecycle_configuration", PROVISION) in calls


def test_template_grants_exactly_what_the_code_calls(calls, template):
    wanted = runtime_actions(calls)
    roles = role_policies(template)
    assert {"HttpFunction", "S3EventsFunction", "ReconcileFunction", "TaskRole"} <= set(roles)
    granted = set()
    for name, stmts in roles.items():
        mine = set()
        for s in stmts:
            assert s["Effect"] == "Allow"
            mine |= set(as_list(s["Action"]))
            for resource in as_list(s["Resource"]):
                assert resource != "*", f"{name}: {s['Action']} on every resource"
        extra = mine - wanted
        assert not extra, f"{name} is granted actions the code never calls: {sorted(extra)}"
        granted |= mine
    assert granted == wanted, f"not granted to any role: {sorted(wanted - granted)}"
    # The HTTP function and the replicas run the whole server.
    for name in ("HttpFunction", "TaskRole"):
        mine = {a for s in roles[name] for a in as_list(s["Action"])}
        assert mine == wanted, f"{name} lacks {sorted(wanted - mine)}"


def test_readme_lists_exactly_what_the_code_calls(calls):
    assert readme_list("iam:runtime") == runtime_actions(calls)


def test_readme_lists_exactly_what_init_aws_calls(calls):
    wanted = actions_of({c for c in calls if c[2] == PROVISION}) - runtime_actions(calls)
    assert readme_list("iam:init-aws") == wanted


def rust_const(path, name):
    return re.search(rf'const {name}: &str = "([^"]+)"', open(path).read()).group(1)


def test_tables_are_the_ones_init_aws_creates(template):
    dynamo = os.path.join(SRC, "store", "dynamo", "mod.rs")
    index, all_index, shard, expires, auth_index = (
        rust_const(dynamo, n) for n in ("INDEX", "ALL_INDEX", "SHARD", "EXPIRES", "AUTH_INDEX")
    )
    provision = open(os.path.join(SRC, PROVISION)).read()
    m = re.search(r"ASSET_KEY_ATTRIBUTES: \[&str; \d\] = \[([^\]]*)\]", provision)
    key_attributes = {a.strip().strip('"') for a in m.group(1).split(",")}
    key_attributes = {shard if a == "SHARD" else a for a in key_attributes}

    def table(name):
        props = template["Resources"][name]["Properties"]
        attrs = {a["AttributeName"] for a in props["AttributeDefinitions"]}
        assert all(a["AttributeType"] == "S" for a in props["AttributeDefinitions"])
        indexes = {
            i["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]]
            for i in props["GlobalSecondaryIndexes"]
        }
        assert all(i["Projection"] == {"ProjectionType": "ALL"} for i in props["GlobalSecondaryIndexes"])
        assert props["TimeToLiveSpecification"] == {"AttributeName": expires, "Enabled": True}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert template["Resources"][name]["DeletionPolicy"] == "Retain"
        return props["KeySchema"], attrs, indexes

    keys, attrs, indexes = table("AssetsTable")
    assert keys == [{"AttributeName": "asset_id", "KeyType": "HASH"}]
    assert attrs == key_attributes
    assert indexes == {
        index: [("owner", "HASH"), ("created_sort", "RANGE")],
        all_index: [(shard, "HASH"), ("created_sort", "RANGE")],
    }
    keys, attrs, indexes = table("AuthTable")
    assert keys == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert attrs == {"pk", "kind", "sort"}
    assert indexes == {auth_index: [("kind", "HASH"), ("sort", "RANGE")]}
    # The server finds the auth table as `<table>-auth` by default; the template names it so.
    assert template["Resources"]["AuthTable"]["Properties"]["TableName"]["Fn::Sub"] == (
        template["Resources"]["AssetsTable"]["Properties"]["TableName"]["Fn::Sub"] + "-auth"
    )
