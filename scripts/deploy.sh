#!/usr/bin/env bash
# Deploys the asset service to your AWS account with deploy/template.yaml (README "Deploy to
# AWS"): builds the release (scripts/build-release.sh), packages the Lambda zip
# (scripts/package-lambda.sh), uploads it with `aws cloudformation package`, runs
# `aws cloudformation deploy`, prints the stack's outputs and the next step. Uses your own AWS
# credentials and region (the aws CLI's chain: AWS_PROFILE, AWS_REGION, ...).
#
#   scripts/deploy.sh --stack NAME --bucket BUCKET --artifacts-bucket BUCKET [options]
#
#   --mode serverless|replicas   default serverless
#   --origins A,B                extra browser origins for the bucket's CORS
#   --public-url URL             a custom domain in front (ASSETS_PUBLIC_URL)
#   --upload-url-ttl SECONDS     presigned upload URLs' lifetime (default 3600)
#   --max-upload-bytes N         largest declared upload (default 5 TiB)
#   --log-retention-days N       default 30
#   --abort-uploads-after-days N incomplete multipart uploads end (default 1)
#   --reconcile-schedule EXPR    default "rate(5 minutes)"
#   --metrics-token-secret ARN   Secrets Manager secret holding the /metrics bearer token
#   --region REGION              else the aws CLI's default
#   replicas mode: --image URI (built from deploy/Dockerfile, pushed by you), --vpc ID,
#     --public-subnets A,B, --task-subnets A,B, [--replicas N] [--certificate-arn ARN]
#     [--task-public-ip ENABLED|DISABLED]
#
#   --dry-run                    build and package, then print the aws commands instead of
#                                running them
#   --package-only               also run `aws cloudformation package` (uploads the zip), print
#                                the deploy command
#   --no-build                   package what is built already (target/site and the binary)
#   --lambda-binary PATH         package PATH as `bootstrap` instead of building it (tests;
#                                a bootstrap built with cargo-lambda for glibc 2.34)
#   --site DIR                   package DIR as the site instead of target/site (tests)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
fail() { echo "deploy.sh: $*" >&2; exit 2; }

stack="" bucket="" artifacts="" mode=serverless region="" site="" dry_run=false package_only=false build=true lambda_binary=""
params=()
param() { params+=("$1=$2"); }
while [ $# -gt 0 ]; do
  [ "$1" = --dry-run ] || [ "$1" = --package-only ] || [ "$1" = --no-build ] || [ "$1" = -h ] || [ "$1" = --help ] ||
    [ $# -ge 2 ] || fail "$1 needs a value"
  case "$1" in
    --stack) stack="$2" ;;
    --bucket) bucket="$2" ;;
    --artifacts-bucket) artifacts="$2" ;;
    --mode) mode="$2" ;;
    --region) region="$2" ;;
    --origins) param AllowedOrigins "$2" ;;
    --public-url) param PublicUrl "$2" ;;
    --upload-url-ttl) param UploadUrlTtl "$2" ;;
    --max-upload-bytes) param MaxUploadBytes "$2" ;;
    --log-retention-days) param LogRetentionDays "$2" ;;
    --abort-uploads-after-days) param AbortIncompleteUploadsAfterDays "$2" ;;
    --reconcile-schedule) param ReconcileSchedule "$2" ;;
    --metrics-token-secret) param MetricsTokenSecretArn "$2" ;;
    --image) param ReplicaImage "$2" ;;
    --vpc) param VpcId "$2" ;;
    --public-subnets) param PublicSubnetIds "$2" ;;
    --task-subnets) param TaskSubnetIds "$2" ;;
    --replicas) param ReplicaCount "$2" ;;
    --certificate-arn) param CertificateArn "$2" ;;
    --task-public-ip) param TaskPublicIp "$2" ;;
    --lambda-binary) lambda_binary="$2" ;;
    --site) site="$2" ;;
    --dry-run) dry_run=true; shift; continue ;;
    --package-only) package_only=true; shift; continue ;;
    --no-build) build=false; shift; continue ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
  shift 2
done

[ -n "$stack" ] || fail "--stack is required"
[[ "$stack" =~ ^[A-Za-z][A-Za-z0-9-]{0,100}$ ]] ||
  fail "--stack $stack: letters, digits and -, starting with a letter"
[ -n "$bucket" ] || fail "--bucket is required (the objects bucket's globally unique name)"
[[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || fail "--bucket $bucket is not a valid bucket name"
[ -n "$artifacts" ] || fail "--artifacts-bucket is required (an existing bucket for the Lambda zip)"
case "$mode" in serverless | replicas) ;; *) fail "--mode is serverless or replicas, not $mode" ;; esac
has_param() { local p; for p in "${params[@]}"; do [ "${p%%=*}" = "$1" ] && return 0; done; return 1; }
if [ "$mode" = replicas ]; then
  for need in ReplicaImage:--image VpcId:--vpc PublicSubnetIds:--public-subnets TaskSubnetIds:--task-subnets; do
    has_param "${need%%:*}" || fail "--mode replicas needs ${need#*:}"
  done
else
  for p in ReplicaImage VpcId PublicSubnetIds TaskSubnetIds ReplicaCount CertificateArn TaskPublicIp; do
    ! has_param "$p" || fail "$p is for --mode replicas"
  done
fi
param Mode "$mode"
param BucketName "$bucket"

# Build and package (the functions run in both modes).
if $build; then
  scripts/build-release.sh >/dev/null
fi
package_args=()
[ -z "$lambda_binary" ] || package_args+=(--binary "$lambda_binary")
[ -z "$site" ] || package_args+=(--site "$site")
scripts/package-lambda.sh "${package_args[@]}" >/dev/null

region_args=()
[ -z "$region" ] || region_args=(--region "$region")
packaged="$root/target/lambda/packaged.yaml"
package_cmd=(aws "${region_args[@]}" cloudformation package --template-file deploy/template.yaml
  --s3-bucket "$artifacts" --s3-prefix "$stack" --output-template-file "$packaged")
deploy_cmd=(aws "${region_args[@]}" cloudformation deploy --template-file "$packaged"
  --stack-name "$stack" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND
  --no-fail-on-empty-changeset --parameter-overrides "${params[@]}")
outputs_cmd=(aws "${region_args[@]}" cloudformation describe-stacks --stack-name "$stack"
  --query "Stacks[0].Outputs" --output table)

if $dry_run; then
  printf '%q ' "${package_cmd[@]}"; echo
  printf '%q ' "${deploy_cmd[@]}"; echo
  printf '%q ' "${outputs_cmd[@]}"; echo
  exit 0
fi

"${package_cmd[@]}"
if $package_only; then
  printf '%q ' "${deploy_cmd[@]}"; echo
  exit 0
fi
"${deploy_cmd[@]}"
"${outputs_cmd[@]}"
table="$(aws "${region_args[@]}" cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='TableName'].OutputValue" --output text)"
cat <<NEXT

Next: create the first admin (password on standard input), with your credentials:
  ASSETS_STORE=dynamodb ASSETS_OBJECTS=s3 ASSETS_DYNAMODB_TABLE=$table ASSETS_BUCKET=$bucket \\
    ${region:+AWS_REGION=$region }${CARGO_TARGET_DIR:-target}/release/server users add admin --admin
then sign in at the DashboardUrl above.
NEXT
