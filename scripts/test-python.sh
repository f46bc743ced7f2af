#!/usr/bin/env bash
# Runs the Python SDK tests (unit and, when the built server and test model are there,
# integration). Extra arguments go to pytest, e.g. `scripts/test-python.sh -m "not integration"`.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/python-sdk-setup.sh" || exit 1

# In CI the server is built and the test model is beside the clone, so integration tests that
# cannot start must fail rather than skip.
if [[ "${CI:-}" == "true" ]]; then
    export QUANDEX_REQUIRE_INTEGRATION="${QUANDEX_REQUIRE_INTEGRATION:-1}"
fi

cd "$ROOT"
.venv/bin/python -m pytest sdk/python/tests -q "$@"
status=$?
if [[ $status == 5 ]]; then
    # pytest's "no tests collected": a broken selection must not pass as green.
    echo "test-python: no tests were collected" >&2
    exit 1
fi
exit $status
