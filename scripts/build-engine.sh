#!/usr/bin/env bash
# Builds the llama-server binary for the llama-server engine (`quandex engine build`), only when it
# is missing: a build whose stamp (llama.cpp release, commit, variant, cmake flags) matches is kept,
# so a second run takes a second. No network: the source is the llama.cpp git bundle inside
# node-llama-cpp's npm package. About 15 minutes on 2 cores. Installs into
# ${QUANDEX_HOME:-~/.quandex}/engines/<release>/<variant>/bin/. Arguments go to `quandex engine build`
# (e.g. --gpu cuda, --jobs 4). Runs at low priority so a shared machine stays usable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ ! -f packages/server/dist/cli/main.js || ! -f packages/engine/dist/llamaServer/LlamaServerBuild.js ]]; then
    npx tsc -b
fi
for tool in cmake git; do
    command -v "$tool" >/dev/null || { echo "build-engine: '$tool' is needed (apt-get install $tool)" >&2; exit 1; }
done
command -v c++ >/dev/null || command -v g++ >/dev/null || command -v clang++ >/dev/null ||
    { echo "build-engine: a C++ compiler is needed (apt-get install g++)" >&2; exit 1; }

exec nice -n 10 node packages/server/dist/cli/main.js engine build "$@"
