#!/usr/bin/env bash
# The whole test suite: type-check and build, then every TypeScript test file (node:test through
# tsx, one file at a time on small machines), then the Python SDK's tests.
# `scripts/test.sh unit` runs only the tests that need no model and no child processes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
shopt -s nullglob globstar

npx tsc -b
# The web console (type-check and Vite build into packages/console/dist), which its tests serve.
npm run build -w @quandex/console
# Tests run through tsx, which does not type-check; these do.
npx tsc -p tsconfig.tests.json
npx tsc -p packages/client/test/tsconfig.json

unit=(
    packages/engine/test/units.test.ts
    packages/engine/test/Scheduler.test.ts
    packages/server/test/config.test.ts
    packages/server/test/routes.test.ts
    packages/server/test/console/consolePlugin.test.ts
    packages/server/test/contract.fake.test.ts
    packages/client/test/*.test.ts
)
if [[ "${1:-}" == "unit" ]]; then
    node --import tsx --test "${unit[@]}"
    exit 0
fi

all=(packages/*/test/**/*.test.ts bench/test/**/*.test.ts)
node --import tsx --test --test-concurrency=1 "${all[@]}"
bash scripts/test-python.sh
# The benchmark at a tiny size, so the tool cannot rot; it fails on broken runs, never on speed.
npx tsc -p bench/tsconfig.json
npm run bench -w @quandex/bench -- --smoke
# The multi-turn chat benchmark (issue #21) at a tiny size, for the same reason.
npm run bench:multi-turn -w @quandex/bench -- --smoke
# The HTTP-floor experiment DEVELOPERS.md quotes, at a tiny size for the same reason.
npm run bench:http-floor -w @quandex/bench -- --requests 2 --tokens 8 --runs 1
