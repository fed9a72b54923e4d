#!/usr/bin/env bash
# Install everything vectoraiz needs to build, test and demo on Debian 12.
# Idempotent: a second run checks what is there and does nothing else.
# Runs as root (apt-get); third-party C libraries go into ./deps (git-ignored).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
deps="$here/deps"

# Debian packages, one per line, grouped by purpose.
apt_pkgs=(
  # build
  build-essential pkg-config clang clang-format cppcheck libclang-rt-14-dev
  # libraries
  libpq-dev libmariadb-dev libpg-query-dev libmicrohttpd-dev libjansson-dev
  libsqlite3-dev libssl-dev libcurl4-openssl-dev libcmocka-dev
  # test servers and helpers
  postgresql-15 postgresql-client-15 mariadb-server mariadb-client
  python3 python3-cryptography python3-venv git curl ca-certificates sqlite3
)
# Node.js and npm (DuckDB comes from the npm registry; the browser tests run
# on node). A machine may already have a newer Node.js whose package conflicts
# with Debian's npm, so Debian's are only installed when none is present.
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  apt_pkgs+=(nodejs npm)
fi

# DuckDB's C library: the official build shipped in the node bindings, and
# the header from the duckdb package tarball of the same version.
DUCKDB_VERSION=1.4.4
DUCKDB_LIB_PKG="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
DUCKDB_LIB_SRI="sha512-jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="
DUCKDB_HDR_PKG="duckdb@1.4.4"
DUCKDB_HDR_SRI="sha512-hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="

log() { printf 'setup: %s\n' "$*" >&2; }

missing_pkgs() {
  local p
  for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
      || printf '%s\n' "$p"
  done
}

install_debian() {
  local need
  need=$(missing_pkgs)
  if [ -z "$need" ]; then
    log "Debian packages: all present"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages (run as root to install): $(echo $need)"
    exit 1
  fi
  log "installing: $(echo $need)"
  # Keep package scripts from starting system services: the tests start
  # their own throwaway servers (scripts/testdb.sh).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends $need; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends $need
  fi
  [ "$made_policy" = 1 ] && rm -f "$policy"
  return 0
}

. "$(dirname "${BASH_SOURCE[0]}")/lib-npm.sh"

install_duckdb() {
  local stamp="$deps/.duckdb-$DUCKDB_VERSION"
  if [ -f "$stamp" ] && [ -f "$deps/lib/libduckdb.so" ] && [ -f "$deps/include/duckdb.h" ]; then
    log "DuckDB $DUCKDB_VERSION: present"
    return
  fi
  log "fetching DuckDB $DUCKDB_VERSION from npm"
  mkdir -p "$deps/lib" "$deps/include" "$deps/cache"
  local libtgz="$deps/cache/duckdb-lib.tgz" hdrtgz="$deps/cache/duckdb-hdr.tgz" tmp
  npm_fetch "$DUCKDB_LIB_PKG" "$DUCKDB_LIB_SRI" "$libtgz" || exit 1
  npm_fetch "$DUCKDB_HDR_PKG" "$DUCKDB_HDR_SRI" "$hdrtgz" || exit 1
  tmp=$(mktemp -d)
  tar -xzf "$libtgz" -C "$tmp" package/libduckdb.so
  tar -xzf "$hdrtgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h
  install -m 0755 "$tmp/package/libduckdb.so" "$deps/lib/libduckdb.so"
  install -m 0644 "$tmp/package/src/duckdb/src/include/duckdb.h" "$deps/include/duckdb.h"
  rm -rf "$tmp" "$libtgz" "$hdrtgz"
  touch "$stamp"
}

install_debian
install_duckdb
"$here/scripts/setup-web.sh"
"$here/scripts/setup-models.sh"
log "done"
