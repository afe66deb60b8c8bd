#!/usr/bin/env bash
# Debian's `prometheus` server, which tests/test_prometheus.py starts to scrape a
# test process. Installed only when /usr/bin/prometheus is missing.
set -euo pipefail
if [ -x /usr/bin/prometheus ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends prometheus
# the package starts its own service where systemd runs; the tests start their own
/usr/bin/prometheus --version >/dev/null
