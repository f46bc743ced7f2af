#!/usr/bin/env bash
# Sets up the Python SDK for development: a .venv at the repo root, isolated from the system's
# site-packages, with the pinned tools of sdk/python/requirements-dev.txt from PyPI and
# quandex-client installed in editable mode.
#
# Idempotent and quick the second time: the venv is rebuilt from scratch only when the
# requirements file or the Python it was made with changed (so it never keeps packages the file no
# longer lists), and the SDK is reinstalled only when its pyproject.toml changed; code changes need
# neither, the install is editable. QUANDEX_PYTHON picks the interpreter (default: python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${QUANDEX_PYTHON:-python3}"
VENV="$ROOT/.venv"
SDK="$ROOT/sdk/python"
REQUIREMENTS="$SDK/requirements-dev.txt"
DEB_PACKAGES=(python3-venv)

say() { echo "python-sdk-setup: $*" >&2; }

if ! command -v "$PYTHON" >/dev/null; then
    say "$PYTHON not found; install Python 3.10 or newer (Debian: apt-get install python3 python3-venv) or set QUANDEX_PYTHON"
    exit 1
fi
# pytest and mypy, as pinned, need 3.10; the SDK itself supports older versions.
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    say "$("$PYTHON" --version 2>&1) is too old for the dev tools; use Python 3.10 or newer (QUANDEX_PYTHON)"
    exit 1
fi
# Debian's python3 lacks ensurepip (and so `-m venv`) until python3-venv is installed.
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        say "installing ${DEB_PACKAGES[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${DEB_PACKAGES[@]}" >/dev/null
    fi
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        say "$PYTHON cannot create virtual environments (no venv/ensurepip module)"
        say "  install them with: sudo apt-get install ${DEB_PACKAGES[*]}"
        exit 1
    fi
fi

# Two runs at once (setup.sh and test-python.sh in parallel) must not rebuild the venv under each
# other; the lock is this script itself, so no lock file is left in the work tree.
if command -v flock >/dev/null; then
    exec 9<"${BASH_SOURCE[0]}"
    flock 9
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
VENV_STAMP="$VENV/.quandex-dev-requirements.stamp"
SDK_STAMP="$VENV/.quandex-client.stamp"
want_venv="$( { "$PYTHON" -c 'import sys; print(sys.version, sys.base_prefix)'; cat "$REQUIREMENTS"; } | sha256sum | cut -d' ' -f1)"
want_sdk="$(sha256sum <"$SDK/pyproject.toml" | cut -d' ' -f1)"

venv_is_current() {
    [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "" 2>/dev/null \
        && grep -qx "include-system-site-packages = false" "$VENV/pyvenv.cfg" \
        && [[ "$(cat "$VENV_STAMP" 2>/dev/null)" == "$want_venv" ]]
}

if ! venv_is_current; then
    say "building $VENV from $(realpath --relative-to="$ROOT" "$REQUIREMENTS")"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # --no-deps: exactly the pinned packages; `pip check` then names any dependency the file
    # lacks or pins at a version another package does not accept. Until the stamp is written, a
    # half-built venv is rebuilt by the next run.
    if ! "$VENV/bin/pip" install --quiet --no-deps -r "$REQUIREMENTS"; then
        say "pip could not install $REQUIREMENTS (is PyPI reachable?)"
        exit 1
    fi
    if ! problems="$("$VENV/bin/pip" check)"; then
        say "the pins in $REQUIREMENTS are incomplete or conflict:"
        echo "$problems" >&2
        exit 1
    fi
    echo "$want_venv" >"$VENV_STAMP"
    rm -f "$SDK_STAMP"
fi

if [[ "$(cat "$SDK_STAMP" 2>/dev/null)" != "$want_sdk" ]] || ! "$VENV/bin/python" -c "import quandex" 2>/dev/null; then
    # Dependencies and the build backend are already pinned in the venv: no resolver, no download.
    "$VENV/bin/pip" install --quiet --no-deps --no-build-isolation -e "$SDK"
    echo "$want_sdk" >"$SDK_STAMP"
fi
