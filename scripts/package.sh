#!/usr/bin/env bash
# Builds the SDKs as files that can be copied to another machine and installed there without this
# checkout (`npm run package`): the Python SDK's wheel and the npm tarballs of the TypeScript SDK
# and the wire schemas it depends on. Nothing is published. Output in dist/ (OUT=DIR for another):
#
#   quandex_client-<version>-py3-none-any.whl   pip install ./quandex_client-*.whl (fetches httpx)
#   quandex-protocol-<version>.tgz              npm install ./quandex-protocol-*.tgz ./quandex-client-*.tgz
#   quandex-client-<version>.tgz                (together: the client depends on the protocol package)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$(mkdir -p "${OUT:-dist}" && cd "${OUT:-dist}" && pwd)"
say() { echo "package: $*" >&2; }

if [[ ! -x .venv/bin/python ]]; then
    say ".venv is missing; run scripts/setup.sh first"
    exit 1
fi
# The venv's pinned setuptools builds the wheel: no build isolation, so nothing is downloaded.
rm -f "$OUT"/quandex_client-*.whl
.venv/bin/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$OUT" sdk/python
say "$(cd "$OUT" && ls quandex_client-*.whl)"

npx tsc -b packages/protocol packages/client
for workspace in @quandex/protocol @quandex/client; do
    tarball="$(npm pack --workspace "$workspace" --pack-destination "$OUT" --silent)"
    say "$tarball"
done
