#!/bin/sh
# rsyslogd for tests/test_syslog.py (the fixture runs it unprivileged with its own config).
# Installed only when missing; a failure stops the test setup (the tests must not skip).
set -e
command -v rsyslogd >/dev/null 2>&1 && exit 0
[ -x /usr/sbin/rsyslogd ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends rsyslog
