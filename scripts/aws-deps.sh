#!/bin/sh
# What the AWS tests need besides npm's packages: boto3 (the scenario's Python
# runner) and moto_server (the reference the answers are compared with, and
# the Secrets Manager the edge tests use). This machine kind's image ships
# both (moto 5.2.1, boto3 1.43); on a machine without them, pip installs them.
set -e
missing=""
command -v moto_server >/dev/null 2>&1 || missing="moto[server]==5.2.1"
python3 -c 'import boto3' >/dev/null 2>&1 || missing="$missing boto3"
[ -z "$missing" ] && exit 0
echo "scripts/aws-deps.sh: installing$missing" >&2
# shellcheck disable=SC2086
python3 -m pip install --quiet --disable-pip-version-check --timeout 30 --retries 1 $missing || {
  echo "scripts/aws-deps.sh: could not install$missing: the AWS and edge tests need moto_server and boto3" >&2
  exit 1
}
