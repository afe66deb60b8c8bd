#!/usr/bin/env bash
# Run the core test files on every supported Python that pyenv has.
#
#   scripts/test-pythons.sh              # 3.9, 3.10, 3.12 and 3.13
#   scripts/test-pythons.sh 3.9 3.13     # only these
#   PYTEST_ARGS="-x -q" scripts/test-pythons.sh
#
# Each version gets a venv at .venv-pyXY (gitignored) holding the package
# (editable) and the `test` extra minus what the core tests do not need
# (mypy and ruff check the code once, on the main interpreter; they are the
# heavy part of the extra).
# A venv is reused when it exists; delete it to start over.
# Exit status: 0 when every version passed, 1 otherwise; a summary comes last.
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYENV_ROOT="${PYENV_ROOT:-/root/.pyenv}"
VERSIONS=("$@")
if [ ${#VERSIONS[@]} -eq 0 ]; then
    VERSIONS=(3.9 3.10 3.12 3.13)
fi

CORE_TESTS=(
    tests/test_spec_examples.py
    tests/test_logger.py
    tests/test_levels.py
    tests/test_context.py
    tests/test_config.py
    tests/test_formatters.py
    tests/test_serialize.py
    tests/test_handlers_basic.py
    tests/test_testing_helper.py
    tests/test_cli.py
    tests/test_uncaught.py
    tests/test_import.py
    tests/test_dispatch.py
    tests/test_masking.py
    tests/test_masking_corpus.py
    tests/test_injection.py
    tests/test_formatters_property.py
    tests/test_masking_worker.py
    tests/test_speedups.py
    tests/test_messages.py
    tests/test_custom_levels.py
    tests/test_lazy.py
    tests/test_templates.py
    tests/test_compat_1x.py
    # the reliability and masking regressions (issue 14): on every Python
    tests/test_masking_shapes.py
    tests/test_hostile_values.py
    tests/test_worker_survives.py
    tests/test_late_records.py
    tests/test_fork_safety.py
    tests/test_feedback.py
    tests/test_signals.py
    tests/test_attack_dispatch.py
    tests/test_file_guarantees.py
)
# packages of the `test` extra the core tests do not use: the checkers, the benchmark peers
# (micktrace[bench]), and the backends' SDKs, servers and emulators (their tests run on the main Python)
SKIP_EXTRAS_RE='^(mypy|ruff|micktrace|azure-[a-z-]+|google-cloud-logging|sentry-sdk|osmem-server|opensearch-py|elasticsearch|datadog-api-client|moto|uvicorn|django|fastapi|starlette|httpx|grpcio|opentelemetry-[a-z-]+|prometheus-client|requests)([<>=!~ \[;]|$)'

find_python() {
    # the newest installed patch release of $1, e.g. 3.9 -> .../3.9.18/bin/python
    local dir
    dir="$(ls -d "$PYENV_ROOT"/versions/"$1".[0-9]* 2>/dev/null | sort -V | tail -1)"
    [ -n "$dir" ] && [ -x "$dir/bin/python" ] && echo "$dir/bin/python"
}

test_requirements() {
    # the `test` extra from pyproject.toml, read with whichever Python has tomllib
    local py
    for py in python3 "$PYENV_ROOT"/versions/3.1[1-9]*/bin/python; do
        if "$py" -c 'import tomllib' 2>/dev/null; then
            "$py" - "$ROOT/pyproject.toml" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    data = tomllib.load(f)
for req in data["project"]["optional-dependencies"]["test"]:
    print(req)
EOF
            return 0
        fi
    done
    echo "no Python with tomllib found to read pyproject.toml" >&2
    return 1
}

REQS="$(test_requirements | grep -Eiv "$SKIP_EXTRAS_RE")" || exit 1
mapfile -t REQ_LIST <<<"$REQS"

declare -A RESULT
status=0
for version in "${VERSIONS[@]}"; do
    tag="${version//./}"
    venv="$ROOT/.venv-py$tag"
    echo "=== Python $version ==="
    if ! python="$(find_python "$version")"; then
        echo "Python $version is not installed under $PYENV_ROOT/versions"
        RESULT[$version]="missing"
        status=1
        continue
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" || { RESULT[$version]="venv failed"; status=1; continue; }
    fi
    if ! "$venv/bin/python" -m pip install --quiet -e "$ROOT" "${REQ_LIST[@]}" >"$venv/install.log" 2>&1; then
        tail -20 "$venv/install.log"
        RESULT[$version]="install failed (see $venv/install.log)"
        status=1
        continue
    fi
    log="$venv/pytest.log"
    (cd "$ROOT" && "$venv/bin/python" -m pytest -p no:cacheprovider ${PYTEST_ARGS:--q} "${CORE_TESTS[@]}") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary="$(grep -E '(passed|failed|error)' "$log" | tail -1)"
    if [ "$rc" -eq 0 ]; then
        RESULT[$version]="ok: $summary"
    else
        RESULT[$version]="FAILED (exit $rc): $summary"
        status=1
    fi
done

echo
echo "=== summary ==="
for version in "${VERSIONS[@]}"; do
    printf 'Python %-5s %s\n' "$version" "${RESULT[$version]}"
done
exit $status
