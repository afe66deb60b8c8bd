#!/bin/sh
# rsyslogd for tests/test_syslog.py (the fixture runs it unprivileged with its own config).
set -e
command -v rsyslogd >/dev/null 2>&1 && exit 0
apt-get install -y rsyslog
