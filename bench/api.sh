#!/usr/bin/env bash
# API load: wrk against GET /api/v1/db/connections and POST /api/v1/search on
# loopback for a bounded time (DURATION seconds each, default 10), with the
# RSS of the server before and after. Appends a section to bench/RESULTS.md.
# Targets (issue 10): >= 10,000 req/s and p99 < 10 ms for the list call.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
cd "$repo"
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null
[ -x ./vectoraiz ] || make -s vectoraiz

started=0
if ! scripts/testdb.sh status >/dev/null 2>&1; then env_lines=$(scripts/testdb.sh start); started=1; else env_lines=$(scripts/testdb.sh env); fi
eval "$env_lines"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./vectoraiz --data-dir "$work/data" --listen "127.0.0.1:$port" --log-level warn serve >"$work/out" 2>"$work/err" &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"; [ "$started" = 1 ] && scripts/testdb.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
for _ in $(seq 1 50); do grep -q 'admin token' "$work/out" 2>/dev/null && break; sleep 0.1; done
token=$(grep -o 'vzt_[0-9a-f]*' "$work/out")
url="http://127.0.0.1:$port"
api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
id=$(api -d "{\"name\":\"pg\",\"db_type\":\"postgresql\",\"host\":\"127.0.0.1\",\"port\":$VZ_PG_PORT,\"database\":\"$VZ_PG_DB\",\"username\":\"$VZ_PG_RO_USER\",\"password\":\"$VZ_PG_RO_PASSWORD\",\"ssl_mode\":\"disable\"}" "$url/api/v1/db/connections" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
job=$(api -d '{"tables":[{"table":"customers"},{"table":"orders"}]}' "$url/api/v1/db/connections/$id/extract" | python3 -c 'import json,sys; print(" ".join(d["job_id"] for d in json.load(sys.stdin)["datasets"]))')
for j in $job; do
  while api "$url/api/v1/jobs/$j" | grep -q '"state":"\(queued\|running\)"'; do sleep 0.5; done
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
rss0=$(rss)
cat >"$work/search.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"query":"refund after a late delivery","k":10}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
run() { # label, wrk args...
  local label=$1 out; shift
  out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@")
  local rps p99 err
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  err=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '| %s | %s | %s | %s |\n' "$label" "$rps" "$p99" "${err:-0}"
}
{
  echo "### API load ($(date -u +%Y-%m-%d), $(nproc) cores, wrk -t2 -c$CONNS, ${DURATION}s each)"
  echo
  echo "| endpoint | req/s | p99 | non-2xx |"
  echo "|---|---|---|---|"
  run "GET /api/v1/db/connections" -H "Authorization: Bearer $token" "$url/api/v1/db/connections"
  run "POST /api/v1/search (hybrid, 250 chunks)" -s "$work/search.lua" "$url/api/v1/search"
  echo
  echo "Server RSS: $((rss0 / 1024)) MB before, $(( $(rss) / 1024 )) MB after."
  echo
} | tee "$work/result.md"
cat "$work/result.md" >>"$here/RESULTS.md"
