#!/usr/bin/env bash
# One command from a fresh clone to a running server: set up, create an admin key on first run
# (printed once), then serve. Models come from QUANDEX_MODELS_DIR, else ~/.quandex/models, else
# (when that is empty) the test models beside the checkout in ../shared/models.
# Extra arguments go to `quandex serve`, e.g. `scripts/quickstart.sh --port 9000`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh >&2

QUANDEX="node $ROOT/packages/server/bin/quandex.js"
if [[ -z "${QUANDEX_MODELS_DIR:-}" ]]; then
    home_models="${QUANDEX_HOME:-$HOME/.quandex}/models"
    if compgen -G "$home_models/*.gguf" >/dev/null; then
        export QUANDEX_MODELS_DIR="$home_models"
    elif compgen -G "$ROOT/../shared/models/*.gguf" >/dev/null; then
        export QUANDEX_MODELS_DIR="$(cd "$ROOT/../shared/models" && pwd)"
    fi
fi

if [[ "$($QUANDEX keys list --json)" == "[]" ]]; then
    echo "quickstart: no API keys yet; creating an admin key (shown once, stored hashed):" >&2
    $QUANDEX keys create --name admin --scopes generate,read,admin >&2
fi
echo "quickstart: serving models from ${QUANDEX_MODELS_DIR:-~/.quandex/models}" >&2
exec $QUANDEX serve "$@"
