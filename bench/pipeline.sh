#!/usr/bin/env bash
# Pipeline benchmark: ROWS rows of orders (../shared/bench/orders-pg.sql)
# extracted from PostgreSQL through the API with the pipeline, on a temp data
# directory. Measured in the same run:
#   - each phase's seconds (the server's "pipeline N rows ..." log line, the
#     same numbers as the job's record) and rows/s through chunk+embed+index
#     with the `local` model;
#   - the model alone on the same texts (the dataset's chunk texts from its
#     index, bench/embed_raw.c: vz_embed_batch() in batches of 32 like the
#     pipeline; the first RAW_N of them, default 2000: a rate, and the
#     model's speed does not depend on which rows);
#   - the `keyword` provider (no model) on the same data (reprocess);
#   - search latency p50/p99 over 100 queries for hybrid, vector, keyword.
# Prints a markdown section and appends it to bench/RESULTS.md.
# ROWS=N changes the table size (default 20000: about 20 minutes on the
# 2-core VM, the model embeds ~20 of these rows/s), RAW_N=N the reference's texts,
# RESULTS=FILE where the section is appended (default bench/RESULTS.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=${VZ_SHARED:-$repo/../shared}
ROWS=${ROWS:-20000}
RAW_N=${RAW_N:-2000}
cd "$repo"

command -v curl >/dev/null && command -v sqlite3 >/dev/null && command -v node >/dev/null || {
  echo "bench: needs curl, sqlite3 and node (scripts/setup.sh)" >&2
  exit 1
}
[ -x ./vectoraiz ] && [ -f build/libvz.a ] || make -s vectoraiz

started=0
if ! scripts/testdb.sh status >/dev/null 2>&1; then
  env_lines=$(scripts/testdb.sh start)
  started=1
else
  env_lines=$(scripts/testdb.sh env)
fi
eval "$env_lines"
work=$(mktemp -d)
srv_pid=
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "bench: kept $work" >&2 || rm -rf "$work"
  [ "$started" = 1 ] && scripts/testdb.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

pg_super() { psql -h "$VZ_PG_SOCKET_DIR" -p "$VZ_PG_PORT" -U "$VZ_PG_SUPERUSER" -v ON_ERROR_STOP=1 -qAt "$@"; }

echo "bench: loading $ROWS rows of orders into PostgreSQL" >&2
pg_super -d postgres -c "DROP DATABASE IF EXISTS shop" -c "CREATE DATABASE shop OWNER $VZ_PG_ADMIN_USER"
PGPASSWORD=$VZ_PG_ADMIN_PASSWORD psql -h 127.0.0.1 -p "$VZ_PG_PORT" -U "$VZ_PG_ADMIN_USER" -d shop \
  -qAt -v ON_ERROR_STOP=1 -v rows="$ROWS" -f "$shared/bench/orders-pg.sql" >/dev/null
PGPASSWORD=$VZ_PG_ADMIN_PASSWORD psql -h 127.0.0.1 -p "$VZ_PG_PORT" -U "$VZ_PG_ADMIN_USER" -d shop \
  -qAt -c "GRANT SELECT ON orders TO $VZ_PG_RO_USER"
pg_super -d postgres -c "GRANT CONNECT ON DATABASE shop TO $VZ_PG_RO_USER"

# The reference: the model alone, compiled against libvz.a like the unit tests.
flags=$(printf 'vzprint:\n\t@echo "$(CPPFLAGS)|$(CFLAGS)|$(LDLIBS)"\n' |
  make -s --no-print-directory -f Makefile -f - vzprint)
IFS='|' read -r b_cpp b_cflags b_ldlibs <<<"$flags"
b_cpp=$(echo "$b_cpp" | sed 's/-DVZ_VERSION=[^ ]*//')
# shellcheck disable=SC2086
cc $b_cpp $b_cflags -o "$work/embed_raw" "$here/embed_raw.c" build/libvz.a $b_ldlibs

# The server on a free port with a fresh data directory.
data="$work/data"
DB_EXTRACT_MAX_ROWS=$((ROWS * 2 + 1000)) VECTORAIZ_LOG_LEVEL=info \
  ./vectoraiz --data-dir "$data" --listen 127.0.0.1:0 serve >"$work/out" 2>"$work/log" &
srv_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/log" && break; sleep 0.1; done
url=$(grep -o 'listening on http://[^ /]*' "$work/log" | head -1 | sed 's/listening on //')
token=$(grep -o 'vzt_[0-9a-f]*' "$work/out" | head -1)
[ -n "$url" ] && [ -n "$token" ] || { echo "bench: server did not start" >&2; cat "$work/log" >&2; exit 1; }
call() { # method path [json]
  curl -sS -X "$1" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    ${3:+--data "$3"} "$url$2"
}
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v?.[k];console.log(v??"")})' "$1"; }
wait_job() { # job_id -> final state
  local st
  for _ in $(seq 1 36000); do
    st=$(call GET "/api/v1/jobs/$1" | jget state)
    case $st in queued | running) sleep 0.1 ;; *) echo "$st"; return ;; esac
  done
  echo timeout
}
# The pipeline's own timing line for a job: "rows chunks process chunk embed index".
timing() {
  grep "job $1: pipeline " "$work/log" | tail -1 |
    sed -E 's/.*pipeline ([0-9]+) rows, ([0-9]+) chunks .*process ([0-9.]+) s, chunk ([0-9.]+) s, embed ([0-9.]+) s, index ([0-9.]+) s.*/\1 \2 \3 \4 \5 \6/'
}

conn=$(call POST /api/v1/db/connections "{\"name\":\"shop\",\"db_type\":\"postgresql\",\"host\":\"127.0.0.1\",
  \"port\":$VZ_PG_PORT,\"database\":\"shop\",\"username\":\"$VZ_PG_RO_USER\",
  \"password\":\"$VZ_PG_RO_PASSWORD\",\"ssl_mode\":\"disable\"}" | jget id)

echo "bench: extract + pipeline (local model)" >&2
t0=$(date +%s.%N)
resp=$(call POST "/api/v1/db/connections/$conn/extract" '{"tables":[{"table":"orders"}]}')
ds=$(echo "$resp" | jget datasets.0.dataset_id)
job=$(echo "$resp" | jget datasets.0.job_id)
st=$(wait_job "$job")
wall_local=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}')
[ "$st" = succeeded ] || { echo "bench: job $st: $(call GET "/api/v1/jobs/$job")" >&2; exit 1; }
read -r l_rows l_chunks l_proc l_chunk l_embed l_index <<<"$(timing "$job")"

# Search latency at this size, before the keyword run replaces the index.
echo "bench: search latency" >&2
node --input-type=module -e '
const [url, token, ds] = process.argv.slice(1);
const st = ["pending", "paid", "shipped", "delivered", "cancelled"], ch = ["web", "store", "phone"];
const qs = Array.from({ length: 100 }, (_, i) => [
  `order note ${1 + i * 97}`, `${st[i % 5]} orders from the ${ch[i % 3]} channel`,
  `gift order with tag t${i % 10}`, `which orders were ${st[(i + 2) % 5]} with priority ${i % 5}`][i % 4]);
const out = [];
for (const mode of ["hybrid", "vector", "keyword"]) {
  const ms = [];
  for (const [i, query] of [...qs.slice(0, 5), ...qs].entries()) { // 5 warm-up queries
    const t = performance.now();
    const r = await fetch(`${url}/api/v1/search`, { method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ query, mode, k: 10, dataset_ids: [ds] }) });
    await r.text();
    if (r.status !== 200) throw new Error(`search ${r.status}`);
    if (i >= 5) ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)].toFixed(1);
  out.push(`${mode} ${q(0.5)} ${q(0.99)}`);
}
console.log(out.join("\n"));' "$url" "$token" "$ds" >"$work/lat"

# The same texts through the model alone.
echo "bench: the model alone on the same texts" >&2
chunks_db=$(find "$data/datasets" -name chunks.db | head -1)
/usr/bin/python3 - "$chunks_db" "$RAW_N" "$work/texts" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
with open(sys.argv[3], "wb") as f:
    for (t,) in db.execute("SELECT text FROM chunks ORDER BY id LIMIT ?", (int(sys.argv[2]),)):
        f.write(t.encode() + b"\0")
PY
avg_len=$(sqlite3 "$chunks_db" "SELECT printf('%.0f', avg(length(text))) FROM chunks")
raw=$(VZ_LLAMA_DIR=${VZ_LLAMA_DIR:-$repo/deps/llama/lib} VZ_MODEL_DIR=${VZ_MODEL_DIR:-$repo/deps/models} \
  "$work/embed_raw" "$work/texts" "$RAW_N") || exit 1
read -r r_n r_secs r_rate <<<"$raw"

echo "bench: keyword provider (reprocess, no model)" >&2
kjob=$(call POST "/api/v1/datasets/$ds/reprocess" '{"embed_provider":"keyword"}' | jget job_id)
st=$(wait_job "$kjob")
[ "$st" = succeeded ] || { echo "bench: keyword job $st: $(call GET "/api/v1/jobs/$kjob")" >&2; exit 1; }
read -r k_rows k_chunks k_proc k_chunk k_embed k_index <<<"$(timing "$kjob")"
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$srv_pid/status")

kill "$srv_pid" && wait "$srv_pid" 2>/dev/null || true
srv_pid=

f2() { awk -v x="$1" 'BEGIN{printf "%.2f", x}'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN{ if (s > 0) printf "%.0f", n / s; else print "n/a" }'; }
cei_l=$(awk -v a="$l_chunk" -v b="$l_embed" -v c="$l_index" 'BEGIN{print a + b + c}')
cei_k=$(awk -v a="$k_chunk" -v b="$k_embed" -v c="$k_index" 'BEGIN{print a + b + c}')
all_l=$(awk -v a="$cei_l" -v b="$l_proc" 'BEGIN{print a + b}')
all_k=$(awk -v a="$cei_k" -v b="$k_proc" 'BEGIN{print a + b}')
pipe_rate=$(rate "$l_rows" "$cei_l")
pipe_chunk_rate=$(awk -v n="$l_chunks" -v s="$cei_l" 'BEGIN{printf "%.1f", n / s}')
ratio=$(awk -v a="$pipe_chunk_rate" -v b="$r_rate" 'BEGIN{printf "%.2f", a / b}')
{
  echo "### Pipeline, $ROWS rows of orders ($(date -u +%Y-%m-%d), $(nproc) cores, bench/pipeline.sh)"
  echo
  echo "| run | rows | chunks | process | chunk | embed | index | rows/s through chunk+embed+index | rows/s whole pipeline |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "| \`local\` (all-MiniLM-L6-v2) | $l_rows | $l_chunks | $(f2 "$l_proc") s | $(f2 "$l_chunk") s | $(f2 "$l_embed") s | $(f2 "$l_index") s | $pipe_rate | $(rate "$l_rows" "$all_l") |"
  echo "| \`keyword\` (no model) | $k_rows | $k_chunks | $(f2 "$k_proc") s | $(f2 "$k_chunk") s | $(f2 "$k_embed") s | $(f2 "$k_index") s | $(rate "$k_rows" "$cei_k") | $(rate "$k_rows" "$all_k") |"
  echo
  echo "- The model alone on the same chunk texts ($r_n of them, avg $avg_len chars, batches of 32,"
  echo "  bench/embed_raw.c): $r_rate texts/s; the pipeline's chunk+embed+index: $pipe_chunk_rate chunks/s"
  echo "  → **$ratio× the raw model** (goal ≥ 0.9×)."
  echo "- Extraction + pipeline wall time (API request to job succeeded): ${wall_local} s."
  echo "- Search latency over 100 queries at $l_chunks chunks (HTTP round trip, k = 10):"
  echo
  echo "| mode | p50 | p99 |"
  echo "|---|---|---|"
  while read -r m p50 p99; do echo "| $m | $p50 ms | $p99 ms |"; done <"$work/lat"
  echo
  echo "- Phase seconds are the server's own (its \"pipeline N rows ...\" log line, 2 decimals: a"
  echo "  0.00 s phase gives n/a)."
  echo "- Server peak RSS over the whole run: $((rss_kb / 1024)) MB."
  echo
} | tee "$work/result.md"

results=${RESULTS:-$here/RESULTS.md}
[ -f "$results" ] || printf '# Benchmark results\n\nEach section is one run of a script in bench/; ratios compare against a reference measured in the same run.\n\n' >"$results"
cat "$work/result.md" >>"$results"
echo "bench: appended to bench/RESULTS.md" >&2
