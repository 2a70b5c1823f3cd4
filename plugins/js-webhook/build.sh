#!/usr/bin/env bash
# Builds the JavaScript webhook plugin into a WebAssembly component.
# Usage: build.sh [OUTPUT.wasm]   (default: target/test-plugins/js-webhook.wasm)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/test-plugins/js-webhook.wasm}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

cd "$here"
# componentize-js is pinned exactly (package.json) and its tree by package-lock.json: the
# binding names app.js imports can change between releases. `npm ci` reinstalls when the
# lock changed since the last install.
if ! [ node_modules/.installed-from -nt package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.installed-from
fi
node build.mjs "$out"
