#!/usr/bin/env bash
# Builds the local test images without any image registry:
#
#   gatehouse-test/everything:latest  node + @modelcontextprotocol/server-everything (stdio by default;
#                                     `... streamableHttp` with -e PORT=<port> for HTTP, network host)
#   gatehouse-test/node:latest        the same root filesystem, ENTRYPOINT node, no CMD
#                                     (`docker run gatehouse-test/node /app/fixtures/x.mjs`)
#
# The root filesystem is assembled from this machine's `node` binary and the shared libraries it
# links, plus the server installed from npm at the version pinned in package-lock.json, and imported
# with `docker import`. Both images carry the label dev.gatehouse.test.inputs=<sha256 of the inputs>;
# when images with the current value already exist, the build is skipped. Both are then verified.
#
# Needs: a running Docker engine, node, npm, curl, tar. Run from anywhere: bash test/images/build.sh
# Set GATEHOUSE_TEST_IMAGES_FORCE=1 to rebuild even when the inputs did not change.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="$HERE/.build"            # ignored by git (.gitignore: test/images/.build/)
FIXTURES="$HERE/fixtures"
LOCKFILE="$ROOT/package-lock.json"
SERVER_PKG='@modelcontextprotocol/server-everything'
IMAGE='gatehouse-test/everything:latest'
NODE_IMAGE='gatehouse-test/node:latest'
LABEL_KEY='dev.gatehouse.test.inputs'
SERVER_ENTRY="/app/node_modules/$SERVER_PKG/dist/index.js"

log() { printf '[images %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in docker node npm curl tar sha256sum ldd timeout mkfifo; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed"
done
[[ -f "$LOCKFILE" ]] || die "$LOCKFILE not found"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed). Start one with:
  dockerd --bridge=none --iptables=false --ip6tables=false >/tmp/dockerd.log 2>&1 &"

START=$SECONDS
mkdir -p "$BUILD"

# ---------------------------------------------------------------- inputs ---------------------------
NODE_BIN="$(readlink -f "$(command -v node)")"
[[ -x "$NODE_BIN" ]] || die "cannot resolve the node binary ($(command -v node))"

# Shared libraries of node as ldd lists them ("libx.so => /path (addr)" and "/lib64/ld-linux... (addr)").
# linux-vdso/linux-gate have no file and are skipped.
mapfile -t NODE_LIBS < <(ldd "$NODE_BIN" | awk '
  $2 == "=>" && $3 ~ /^\// { print $3; next }
  $1 ~ /^\// { print $1 }' | sort -u)
((${#NODE_LIBS[@]} > 0)) || die "ldd listed no shared libraries for $NODE_BIN (static node is not expected)"
for lib in "${NODE_LIBS[@]}"; do [[ -e "$lib" ]] || die "ldd lists $lib, which does not exist"; done

# package.json + package-lock.json for the server alone, pinned from the project's lockfile.
LOCKDIR="$BUILD/lock"
rm -rf "$LOCKDIR"
SERVER_VERSION="$(node "$HERE/lock-subset.mjs" "$LOCKFILE" "$SERVER_PKG" "$LOCKDIR")"

fixtures_digest() {
  if [[ -d "$FIXTURES" ]]; then
    (cd "$FIXTURES" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z \
      | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
  else
    echo absent
  fi
}

INPUTS_HASH="$(
  {
    echo "node $(sha256sum < "$NODE_BIN" | cut -d' ' -f1)"
    for lib in "${NODE_LIBS[@]}"; do echo "lib $lib $(sha256sum < "$lib" | cut -d' ' -f1)"; done
    echo "lock $(sha256sum < "$LOCKDIR/package-lock.json" | cut -d' ' -f1)"
    echo "fixtures $(fixtures_digest)"
    # The recipe itself is an input too: changing this script or the helper rebuilds the images.
    echo "recipe $(cat "$HERE/build.sh" "$HERE/lock-subset.mjs" | sha256sum | cut -d' ' -f1)"
  } | sha256sum | cut -d' ' -f1
)"
log "node $NODE_BIN ($(node --version)), $SERVER_PKG@$SERVER_VERSION, inputs $INPUTS_HASH"

image_label() { # prints the inputs label of an image, or nothing when the image is absent
  docker image inspect --format "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------- build ----------------------------
if [[ "${GATEHOUSE_TEST_IMAGES_FORCE:-}" != 1 \
   && "$(image_label "$IMAGE")" == "$INPUTS_HASH" && "$(image_label "$NODE_IMAGE")" == "$INPUTS_HASH" ]]; then
  log "images are up to date (label $LABEL_KEY=$INPUTS_HASH): build skipped"
else
  OLD_IDS="$(docker image inspect --format '{{.Id}}' "$IMAGE" "$NODE_IMAGE" 2>/dev/null || true)"

  # 1. the server and its production dependencies, from the pinned lockfile (offline from the cache
  #    when the tarballs are there, e.g. after `npm ci`).
  APPDIR="$BUILD/app"
  rm -rf "$APPDIR"
  mkdir -p "$APPDIR"
  cp "$LOCKDIR/package.json" "$LOCKDIR/package-lock.json" "$APPDIR/"
  log "npm install $SERVER_PKG@$SERVER_VERSION (production dependencies only)"
  if ! (cd "$APPDIR" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline \
          --no-update-notifier >"$BUILD/npm-install.log" 2>&1); then
    cat "$BUILD/npm-install.log" >&2
    die "npm install of $SERVER_PKG@$SERVER_VERSION failed"
  fi
  INSTALLED="$(node -p "require('$APPDIR/node_modules/$SERVER_PKG/package.json').version")"
  [[ "$INSTALLED" == "$SERVER_VERSION" ]] || die "installed $SERVER_PKG@$INSTALLED, expected $SERVER_VERSION"
  [[ -f "$APPDIR/node_modules/$SERVER_PKG/dist/index.js" ]] || die "$SERVER_PKG has no dist/index.js"

  # 2. the root filesystem
  ROOTFS="$BUILD/rootfs"
  rm -rf "$ROOTFS"
  mkdir -p "$ROOTFS"/{usr/local/bin,etc,app,home/mcp,dev,proc,sys,tmp}
  chmod 1777 "$ROOTFS/tmp"
  install -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
  for lib in "${NODE_LIBS[@]}"; do
    # Same path as on this machine; symlinks (e.g. /lib64/ld-linux-x86-64.so.2) become the real file.
    mkdir -p "$ROOTFS$(dirname "$lib")"
    cp -L "$lib" "$ROOTFS$lib"
  done
  cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
mcp:x:10001:10001:MCP server:/home/mcp:/usr/sbin/nologin
EOF
  cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
mcp:x:10001:
EOF
  # Without this file glibc asks DNS before /etc/hosts, and "localhost" would stall under --network none.
  cat >"$ROOTFS/etc/nsswitch.conf" <<'EOF'
passwd: files
group:  files
hosts:  files dns
EOF
  cp -a "$APPDIR/node_modules" "$ROOTFS/app/node_modules"
  cp "$APPDIR/package.json" "$APPDIR/package-lock.json" "$ROOTFS/app/"
  if [[ -d "$FIXTURES" ]]; then
    cp -a "$FIXTURES" "$ROOTFS/app/fixtures"
  else
    mkdir -p "$ROOTFS/app/fixtures"
  fi

  # 3. one tarball, owned by root except the home of mcp; fixed order and times for a stable layer.
  TARBALL="$BUILD/rootfs.tar"
  TAR_OPTS=(--sort=name --mtime=@0 --numeric-owner --format=gnu)
  tar -C "$ROOTFS" "${TAR_OPTS[@]}" --owner=0 --group=0 --exclude=./home/mcp -cf "$TARBALL" .
  tar -C "$ROOTFS" "${TAR_OPTS[@]}" --owner=10001 --group=10001 -rf "$TARBALL" ./home/mcp
  log "root filesystem: $(du -sh "$ROOTFS" | cut -f1) ($(find "$ROOTFS" -type f | wc -l) files)"

  # 4. import it twice (the layer is stored once): the server image and the plain node image.
  COMMON_CHANGES=(
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin'
    --change 'WORKDIR /app'
    --change 'USER mcp'
    --change "LABEL $LABEL_KEY=$INPUTS_HASH"
  )
  log "docker import $IMAGE"
  timeout 300 docker import "${COMMON_CHANGES[@]}" \
    --change "ENTRYPOINT [\"/usr/local/bin/node\", \"$SERVER_ENTRY\"]" \
    --change 'CMD ["stdio"]' \
    --message "gatehouse test image: $SERVER_PKG@$SERVER_VERSION" \
    "$TARBALL" "$IMAGE" >/dev/null
  log "docker import $NODE_IMAGE"
  timeout 300 docker import "${COMMON_CHANGES[@]}" \
    --change 'ENTRYPOINT ["/usr/local/bin/node"]' \
    --message "gatehouse test image: node" \
    "$TARBALL" "$NODE_IMAGE" >/dev/null

  # Old images whose tags just moved; ignore failures (an old image may still be used by a container).
  NEW_IDS="$(docker image inspect --format '{{.Id}}' "$IMAGE" "$NODE_IMAGE")"
  for id in $OLD_IDS; do
    grep -qx "$id" <<<"$NEW_IDS" || docker rmi "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$ROOTFS" "$TARBALL" "$APPDIR"
  log "built in $((SECONDS - START)) s"
fi

# ---------------------------------------------------------------- verify ---------------------------
VERIFY_DIR="$(mktemp -d)"
VERIFY_NAMES=()
cleanup() {
  local name
  for name in "${VERIFY_NAMES[@]}"; do docker rm -f "$name" >/dev/null 2>&1 || true; done
  exec 3>&-
  rm -rf "$VERIFY_DIR"
}
trap cleanup EXIT

[[ "$(docker image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")" \
   == "[\"/usr/local/bin/node\",\"$SERVER_ENTRY\"]" ]] || die "$IMAGE has an unexpected ENTRYPOINT"

# (a) stdio: one JSON-RPC initialize line in, a line with "result" out. The request is fed through a
#     FIFO held open by this shell, so the server never sees end-of-input before it answers.
STDIO_NAME="gatehouse-test-verify-stdio-$$"
VERIFY_NAMES+=("$STDIO_NAME")
mkfifo "$VERIFY_DIR/in"
timeout 60 docker run --rm -i --network none --name "$STDIO_NAME" "$IMAGE" \
  <"$VERIFY_DIR/in" >"$VERIFY_DIR/stdio.out" 2>"$VERIFY_DIR/stdio.err" &
STDIO_PID=$!
exec 3>"$VERIFY_DIR/in"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"ci","version":"1"}}}' >&3
ok=0
for _ in $(seq 1 300); do # up to 30 s
  if grep -q '"result"' "$VERIFY_DIR/stdio.out"; then ok=1; break; fi
  kill -0 "$STDIO_PID" 2>/dev/null || break
  sleep 0.1
done
exec 3>&-
docker rm -f "$STDIO_NAME" >/dev/null 2>&1 || true
wait "$STDIO_PID" 2>/dev/null || true
if ((ok != 1)); then
  echo '--- stdout:' >&2; cat "$VERIFY_DIR/stdio.out" >&2
  echo '--- stderr:' >&2; cat "$VERIFY_DIR/stdio.err" >&2
  die "$IMAGE did not answer initialize on stdio"
fi
log "verified: $IMAGE answers initialize over stdio (network none)"

# (b) streamable HTTP on a free loopback port, host network.
PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
HTTP_NAME="gatehouse-test-verify-http-$$"
VERIFY_NAMES+=("$HTTP_NAME")
timeout 60 docker run -d --network host -e "PORT=$PORT" --name "$HTTP_NAME" "$IMAGE" streamableHttp >/dev/null
code=000
for _ in $(seq 1 300); do # up to 30 s
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/" || true)"
  [[ "$code" != 000 ]] && break
  [[ "$(docker inspect --format '{{.State.Running}}' "$HTTP_NAME" 2>/dev/null)" == true ]] || break
  sleep 0.1
done
if [[ "$code" == 000 ]]; then
  docker logs "$HTTP_NAME" >&2 2>&1 || true
  die "$IMAGE streamableHttp did not listen on 127.0.0.1:$PORT"
fi
docker rm -f "$HTTP_NAME" >/dev/null 2>&1 || true
log "verified: $IMAGE streamableHttp answers HTTP $code on 127.0.0.1:$PORT (network host)"

# (c) the node image runs a script given on the command line.
NODE_NAME="gatehouse-test-verify-node-$$"
VERIFY_NAMES+=("$NODE_NAME")
NODE_OUT="$(timeout 60 docker run --rm --network none --name "$NODE_NAME" "$NODE_IMAGE" -e 'console.log(process.version)')"
[[ "$NODE_OUT" == "$(node --version)" ]] || die "$NODE_IMAGE printed '$NODE_OUT', expected $(node --version)"
log "verified: $NODE_IMAGE runs node $NODE_OUT"

log "$IMAGE $(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), done in $((SECONDS - START)) s"
