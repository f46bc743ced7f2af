#!/usr/bin/env bash
# Sets up the Python SDK for development: a .venv at the repo root, on Debian's python3, with
# quandex-client installed in editable mode. Idempotent: a second run only checks.
#
# Dependencies come from Debian packages, not PyPI (this environment has no PyPI access), so the
# venv sees the system site-packages and pip runs without an index. As root (e.g. in CI) missing
# packages are installed with apt-get; otherwise the script says which ones to install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${QUANDEX_PYTHON:-/usr/bin/python3}"
VENV="$ROOT/.venv"
SDK="$ROOT/sdk/python"
DEB_PACKAGES=(python3-httpx python3-pytest python3-pytest-asyncio python3-venv python3-setuptools python3-wheel)

missing_packages() {
    command -v dpkg-query >/dev/null || return 0 # not Debian: nothing we can check
    local pkg
    for pkg in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]})); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "python-sdk-setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "python-sdk-setup: missing Debian packages: ${missing[*]}" >&2
        echo "  install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

# Recreate the venv if it is broken or cannot see the system site-packages (where httpx and
# pytest live).
if [[ -x "$VENV/bin/python" ]] && ! { "$VENV/bin/python" -c "" 2>/dev/null \
    && grep -qx "include-system-site-packages = true" "$VENV/pyvenv.cfg"; }; then
    echo "python-sdk-setup: recreating $VENV" >&2
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi

# Reinstall only when the project metadata changed; the editable install picks up code changes.
STAMP="$VENV/.quandex-client.stamp"
want="$(cat "$SDK/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]] || ! "$VENV/bin/python" -c "import quandex" 2>/dev/null; then
    # --no-index: every dependency is already in the system site-packages; without it pip
    # would wait on network timeouts where PyPI is unreachable.
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --quiet --no-index --no-build-isolation -e "$SDK"
    echo "$want" >"$STAMP"
fi
