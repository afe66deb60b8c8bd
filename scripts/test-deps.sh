#!/usr/bin/env bash
# Install everything the test suite needs: the package (editable) with its `test`
# extra, then each backend's own step in scripts/test-deps.d/*.sh (Debian packages
# such as rsyslog or prometheus, emulator binaries' permissions).
#
#   bash scripts/test-deps.sh && python -m pytest      # the README's test command
#
# Each step is idempotent: it installs only what is missing, so a second run is quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q -e ".[test]"
for step in scripts/test-deps.d/*.sh; do
    [ -e "$step" ] || continue
    echo "test-deps: $step"
    bash "$step"
done
