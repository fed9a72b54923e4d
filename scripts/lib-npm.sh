# Sourced by the setup scripts (not run on its own).
#
# npm_fetch PKG@VER SRI DEST: download a package tarball from the npm
# registry without running any of its scripts, and check its integrity
# hash before anyone unpacks it. Returns 1 (with a message) on a mismatch.
npm_fetch() {
  local spec=$1 sri=$2 dest=$3 tmp file got
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent --ignore-scripts "$spec" >/dev/null) || { rm -rf "$tmp"; return 1; }
  file=$(ls "$tmp"/*.tgz)
  got="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  if [ "$got" != "$sri" ]; then
    printf 'integrity mismatch for %s: got %s\n' "$spec" "$got" >&2
    rm -rf "$tmp"
    return 1
  fi
  mv "$file" "$dest"
  rm -rf "$tmp"
}
