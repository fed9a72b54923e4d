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

./vectoraiz --data-dir "$data" --listen "$listen" serve &
vz_pid=$!

url="http://$listen/"
for _ in $(seq 1 50); do
  curl -fsS "${url}api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$vz_pid" 2>/dev/null || { echo "vectoraiz failed to start" >&2; exit 1; }
  sleep 0.2
done

cat <<MSG

  vectoraiz is running: $url
  health:               ${url}api/v1/health
  data directory:       $data

  Sample databases (read-only user shown; admin users in 'scripts/testdb.sh env'):
    PostgreSQL 127.0.0.1:$VZ_PG_PORT  database $VZ_PG_DB  user $VZ_PG_RO_USER  password $VZ_PG_RO_PASSWORD
    MariaDB    127.0.0.1:$VZ_MY_PORT  database $VZ_MY_DB  user $VZ_MY_RO_USER  password $VZ_MY_RO_PASSWORD

  Press Ctrl-C to stop vectoraiz and the sample databases.

MSG
wait "$vz_pid"
