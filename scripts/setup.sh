#!/usr/bin/env bash
# Sets up a fresh checkout: system packages (as root, with apt), the npm workspace (npm ci builds
# the TypeScript through the root `prepare` script) and the Python SDK's venv. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The supported Node lines are package.json's `engines.node`, a list of `^major.minor.patch` ranges
# (checked here without semver, which npm ci has not installed yet).
if ! command -v node >/dev/null; then
    echo "setup: Node.js is not installed; install Node 22, 24 or 26 (https://nodejs.org)" >&2
    exit 1
fi
if ! reason="$(node -e '
const range = require("./package.json").engines.node;
const [major, minor, patch] = process.versions.node.split(".").map(Number);
const ok = range.split("||").some((part) => {
    const [M, m, p] = part.trim().replace(/^\^/, "").split(".").map(Number);
    return major === M && (minor > m || (minor === m && patch >= p));
});
if (!ok) { console.log(`Node ${process.versions.node} is not supported; use one of ${range} (package.json engines)`); process.exit(1); }
')"; then
    echo "setup: $reason" >&2
    exit 1
fi

APT_PACKAGES=(curl jq redis-server nginx docker-compose python3-venv python3-setuptools python3-wheel prometheus chromium)
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
    # tsc -b, then the web console's Vite build (packages/console/dist, served at /).
    npm run build
fi
bash scripts/python-sdk-setup.sh
