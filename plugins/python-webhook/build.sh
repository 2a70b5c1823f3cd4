#!/usr/bin/env bash
# Builds the Python webhook plugin into a WebAssembly component.
# Usage: build.sh [OUTPUT.wasm]   (default: target/test-plugins/python-webhook.wasm)
set -euo pipefail

# Pinned: the generated binding module names (wit_world.imports.*) that app.py imports
# can change between componentize-py releases.
COMPONENTIZE_PY_VERSION=0.25.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/test-plugins/python-webhook.wasm}"

installed="$(python3 -c 'from importlib.metadata import version; print(version("componentize-py"))' 2>/dev/null || true)"
if [[ "$installed" != "$COMPONENTIZE_PY_VERSION" ]]; then
    python3 -m pip install --quiet "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
# componentize-py imports app.py inside its embedded Python (3.14) while pre-initializing,
# and that writes __pycache__ next to it: build from a copy to keep the tree clean.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/app.py" "$work/"
cd "$work"
# Through the python3 pip installed it for, not whichever componentize-py is first on PATH.
python3 -c 'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' \
    --wit-path "$repo/wit/v0.2.0" \
    --world notifier \
    componentize app \
    --python-path "$work" \
    --output "$out"
echo "built $out ($(stat -c %s "$out") bytes)"
