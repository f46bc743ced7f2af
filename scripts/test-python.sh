#!/usr/bin/env bash
# Checks the Python SDK: mypy (strict, sources and tests), ruff's lint and format check, then the
# tests, unit and integration. Extra arguments go to pytest, e.g.
# `scripts/test-python.sh -m "not integration"`.
#
# The integration tests skip, printing why, only when node, the built server or the test model is
# missing; with CI=true, QUANDEX_CI=1 or QUANDEX_REQUIRE_INTEGRATION=1 such a skip fails instead.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/python-sdk-setup.sh" || exit 1

# The tools read their settings from sdk/python/pyproject.toml, found from the working directory.
cd "$ROOT/sdk/python"
VENV="$ROOT/.venv"
"$VENV/bin/mypy" || exit 1
"$VENV/bin/ruff" check . || exit 1
"$VENV/bin/ruff" format --check . || { echo "test-python: run $VENV/bin/ruff format sdk/python" >&2; exit 1; }

cd "$ROOT"
"$VENV/bin/python" -m pytest sdk/python/tests -q "$@"
status=$?
if [[ $status == 5 ]]; then
    # pytest's "no tests collected": a broken selection must not pass as green.
    echo "test-python: no tests were collected" >&2
    exit 1
fi
exit $status
