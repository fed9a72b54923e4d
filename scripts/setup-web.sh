#!/usr/bin/env bash
# Install what the web UI and its browser tests need, idempotently:
#   - Debian's chromium (the browser tests drive it with playwright-core;
#     no browser is ever downloaded by playwright itself);
#   - the npm packages pinned in tests/e2e/package-lock.json (playwright-core
#     and the SQL highlighter), integrity-checked by `npm ci`, no scripts run;
#   - the highlighter's browser build, copied into the git-ignored
#     deps/web-vendor/, from where the Makefile compiles it into the binary.
# Called by scripts/setup.sh; a second run checks and does nothing else.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
e2e="$here/tests/e2e"
vendor="$here/deps/web-vendor"

log() { printf 'setup-web: %s\n' "$*" >&2; }

install_chromium() {
  if dpkg-query -W -f='${Status}\n' chromium 2>/dev/null | grep -q '^install ok installed$'; then
    log "chromium: present"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    log "chromium is missing (run as root to install it)"
    exit 1
  fi
  log "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends chromium; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium
  fi
}

# npm ci wipes node_modules and fetches again, so it runs only when the lock
# file differs from the one the installed tree came from.
install_npm() {
  local stamp="$e2e/node_modules/.vz-lock.sha256" want
  want=$(sha256sum "$e2e/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "npm packages for tests/e2e: present"
    return
  fi
  log "npm ci in tests/e2e"
  (cd "$e2e" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

# Copy only what changed, so make does not rebuild the assets for nothing.
copy_if_changed() {
  local src=$1 dest=$2
  [ -f "$src" ] || { log "missing $src (npm package layout changed?)"; exit 1; }
  if ! cmp -s "$src" "$dest"; then
    install -m 0644 "$src" "$dest"
    log "vendored $(basename "$dest")"
  fi
}

vendor_highlighter() {
  local hl="$e2e/node_modules/@highlightjs/cdn-assets"
  mkdir -p "$vendor"
  copy_if_changed "$hl/es/core.min.js" "$vendor/hljs-core.min.js"
  copy_if_changed "$hl/es/languages/sql.min.js" "$vendor/hljs-sql.min.js"
  copy_if_changed "$hl/LICENSE" "$vendor/hljs-LICENSE.txt"
}

install_chromium
install_npm
vendor_highlighter
log "done"
