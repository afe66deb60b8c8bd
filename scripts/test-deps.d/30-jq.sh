#!/bin/sh
# jq, the reference benchmarks/viewer.py measures `micktrace view` against.
# Installed only when missing; a failure stops the setup.
set -e
command -v jq >/dev/null 2>&1 && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends jq
jq --version >/dev/null
