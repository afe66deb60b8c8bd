#!/usr/bin/env bash
# The OpenSearch API emulator tests/test_elasticsearch.py starts: pip's osmem-server
# (in the `test` extra) bundles a binary that must be executable. Installs the
# package when it is missing, and sets the executable bit only when it is not set.
set -euo pipefail
if ! python -c "import osmem_server" 2>/dev/null; then
    python -m pip install -q "osmem-server>=0.1.6"
fi
binary="$(python -c 'import osmem_server; print(osmem_server.resolve_binary())')"
if [ ! -x "$binary" ]; then
    chmod +x "$binary"
fi
"$binary" -version >/dev/null
