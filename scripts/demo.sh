#!/usr/bin/env bash
# The demo: throwaway sample PostgreSQL and MariaDB servers, and vectoraiz
# serving on 127.0.0.1 with its data in ./vectoraiz-data. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."

listen=${VECTORAIZ_LISTEN:-127.0.0.1:8420}
data=${VECTORAIZ_DATA_DIR:-$PWD/vectoraiz-data}

eval "$(scripts/testdb.sh start)"
stop_all() {
  [ -n "${vz_pid:-}" ] && kill -TERM "$vz_pid" 2>/dev/null && wait "$vz_pid" 2>/dev/null
  scripts/testdb.sh stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
trap 'exit 0' INT TERM

# A fresh admin token for this demo (only its hash is stored).
token=$(./vectoraiz --data-dir "$data" token reset 2>/dev/null)

./vectoraiz --data-dir "$data" --listen "$listen" serve &
vz_pid=$!

url="http://$listen/"
for _ in $(seq 1 50); do
  curl -fsS "${url}api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$vz_pid" 2>/dev/null || { echo "vectoraiz failed to start" >&2; exit 1; }
  sleep 0.2
done

# Register the sample databases (read-only users). The throwaway servers get
# new ports and passwords each run, so an existing entry of the same name is
# updated in place.
api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
register() { # name type port db user password
  local body id
  body=$(printf '{"name":"%s","db_type":"%s","host":"127.0.0.1","port":%s,"database":"%s","username":"%s","password":"%s","ssl_mode":"disable"}' \
    "$1" "$2" "$3" "$4" "$5" "$6")
  id=$(api "${url}api/v1/db/connections" | python3 -c '
import json, sys
name = sys.argv[1]
print(next((c["id"] for c in json.load(sys.stdin)["connections"] if c["name"] == name), ""))' "$1")
  if [ -n "$id" ]; then
    api -X PUT "${url}api/v1/db/connections/$id" -d "$body" >/dev/null
  else
    api -X POST "${url}api/v1/db/connections" -d "$body" >/dev/null
  fi
}
register "Sample PostgreSQL" postgresql "$VZ_PG_PORT" "$VZ_PG_DB" "$VZ_PG_RO_USER" "$VZ_PG_RO_PASSWORD"
register "Sample MariaDB" mysql "$VZ_MY_PORT" "$VZ_MY_DB" "$VZ_MY_RO_USER" "$VZ_MY_RO_PASSWORD"

# Run the main job once so every screen has something in it: extract two
# sample tables (which then go through the pipeline) in the background.
pg_id=$(api "${url}api/v1/db/connections" | python3 -c '
import json, sys
print(next((c["id"] for c in json.load(sys.stdin)["connections"] if c["name"] == "Sample PostgreSQL"), ""))')
if [ -n "$pg_id" ]; then
  api -X POST "${url}api/v1/db/connections/$pg_id/extract" \
    -d '{"tables":[{"table":"customers"},{"table":"orders"}]}' >/dev/null &&
    echo "extracting public.customers and public.orders from the sample PostgreSQL (see Datasets)"
fi

cat <<MSG

  vectoraiz is running: $url
  login (admin token):  $token
  health:               ${url}api/v1/health
  try:                  curl -H "Authorization: Bearer $token" ${url}api/v1/db/connections
                        curl -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
                          -d '{"query":"refund after a late delivery"}' ${url}api/v1/search
  data directory:       $data

  Sample databases (read-only user shown; admin users in 'scripts/testdb.sh env'):
    PostgreSQL 127.0.0.1:$VZ_PG_PORT  database $VZ_PG_DB  user $VZ_PG_RO_USER  password $VZ_PG_RO_PASSWORD
    MariaDB    127.0.0.1:$VZ_MY_PORT  database $VZ_MY_DB  user $VZ_MY_RO_USER  password $VZ_MY_RO_PASSWORD

  Press Ctrl-C to stop vectoraiz and the sample databases.

MSG
wait "$vz_pid"
