#!/usr/bin/env bash
# One command from a fresh clone to a running server: set up, create an admin key on first run
# (printed once), then serve. Models come from QUANDEX_MODELS_DIR, else ~/.quandex/models, else
# (when that is empty) the test models beside the checkout in ../shared/models.
# Extra arguments go to `quandex serve`, e.g. `scripts/quickstart.sh --port 9000`; `--data-dir DIR`
# also decides where the first key is stored. The server runs in the foreground; Ctrl-C stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh >&2

# The key is created before `serve` starts, so it must land in the data dir `serve` will use.
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --data-dir) export QUANDEX_DATA_DIR="${args[i + 1]:-}" ;;
        --data-dir=*) export QUANDEX_DATA_DIR="${args[i]#--data-dir=}" ;;
    esac
done

QUANDEX="node $ROOT/packages/server/bin/quandex.js"
if [[ -z "${QUANDEX_MODELS_DIR:-}" ]]; then
    home_models="${QUANDEX_HOME:-$HOME/.quandex}/models"
    if compgen -G "$home_models/*.gguf" >/dev/null; then
        export QUANDEX_MODELS_DIR="$home_models"
    elif compgen -G "$ROOT/../shared/models/*.gguf" >/dev/null; then
        export QUANDEX_MODELS_DIR="$(cd "$ROOT/../shared/models" && pwd)"
    fi
fi

data_dir="${QUANDEX_DATA_DIR:-${QUANDEX_HOME:-$HOME/.quandex}/data}"
if [[ "$($QUANDEX keys list --json)" == "[]" ]]; then
    echo "quickstart: no API keys yet; creating an admin key (shown once, stored hashed in $data_dir):" >&2
    $QUANDEX keys create --name admin --scopes generate,read,admin >&2
else
    echo "quickstart: using the keys already in $data_dir (none is printed again; make one with: npx quandex keys create --name me --scopes generate,read,admin)" >&2
fi
models_dir="${QUANDEX_MODELS_DIR:-${QUANDEX_HOME:-$HOME/.quandex}/models}"
# The ids as the server names them: the file stem, split models under their first part's stem.
ids=()
for file in "$models_dir"/*.gguf; do
    [[ -e "$file" ]] || continue
    stem="$(basename "$file" .gguf)"
    [[ "$stem" == mmproj-* || "$stem" =~ -[0-9]{5}-of-[0-9]{5}$ && ! "$stem" =~ -00001-of-[0-9]{5}$ ]] && continue
    ids+=("${stem%-00001-of-[0-9][0-9][0-9][0-9][0-9]}")
done
echo "quickstart: serving models from $models_dir: ${ids[*]:-(none yet; see README, Pulling models)}" >&2
echo "quickstart: the server runs in the foreground; Ctrl-C stops it. Try, in another terminal:" >&2
echo "  export QUANDEX_API_KEY=<the key above>" >&2
echo "  curl -s localhost:8000/v1/generate -H \"Authorization: Bearer \$QUANDEX_API_KEY\" -H 'Content-Type: application/json' -d '{\"model\": \"${ids[0]:-MODEL}\", \"prompt\": \"Once upon a time\", \"max_tokens\": 40}'" >&2
exec $QUANDEX serve "$@"
