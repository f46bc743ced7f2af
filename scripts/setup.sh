#!/usr/bin/env bash
# Sets up a fresh checkout: system packages (as root, with apt), the npm workspace (npm ci builds
# the TypeScript through the root `prepare` script) and the Python SDK's venv. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(redis-server python3-httpx python3-pytest python3-pytest-asyncio python3-venv python3-setuptools python3-wheel)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ "$(id -u)" == 0 ]]; then
        echo "setup: apt-get install ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "setup: please install: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if [[ ! -d node_modules/.bin || package-lock.json -nt node_modules/.package-lock.json || "${CI:-}" == "true" ]]; then
    npm ci --no-audit --no-fund
else
    npx tsc -b
fi
bash scripts/python-sdk-setup.sh
