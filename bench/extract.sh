#!/usr/bin/env bash
# Extraction benchmark: vectoraiz PostgreSQL/MariaDB -> Parquet against the
# references measured in the same run on the same table (../shared/bench):
#   PG:    psql \copy (SELECT * FROM orders) TO '/dev/null' (FORMAT binary)
#   MySQL: mariadb --quick --batch --raw -e 'SELECT * FROM orders' > /dev/null
#   both:  the spec's Python design (SQLAlchemy, server-side cursor,
#          fetchmany(10000), rows as dicts)
# Reports ratios (vectoraiz time / reference time) and peak RSS, and writes
# them to bench/RESULTS.md. ROWS=N changes the table size (default 2000000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
shared=${VZ_SHARED:-$repo/../shared}
ROWS=${ROWS:-2000000}
RUNS=${RUNS:-1}
cd "$repo"

need=()
[ -x /usr/bin/time ] || need+=(time)
/usr/bin/python3 -c 'import sqlalchemy, psycopg2, pymysql' 2>/dev/null ||
  need+=(python3-sqlalchemy python3-psycopg2 python3-pymysql)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x ./vectoraiz ] || make -s vectoraiz

started=0
if ! scripts/testdb.sh status >/dev/null 2>&1; then
  env_lines=$(scripts/testdb.sh start)
  started=1
else
  env_lines=$(scripts/testdb.sh env)
fi
eval "$env_lines"
work=$(mktemp -d)
cleanup() {
  rm -rf "$work"
  [ "$started" = 1 ] && scripts/testdb.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

pg_super() { psql -h "$VZ_PG_SOCKET_DIR" -p "$VZ_PG_PORT" -U "$VZ_PG_SUPERUSER" -v ON_ERROR_STOP=1 -qAt "$@"; }
my_root() { mariadb --no-defaults -S "$VZ_MY_SOCKET" -u "$VZ_MY_SUPERUSER" "$@"; }

echo "bench: loading $ROWS rows of orders into both servers" >&2
pg_super -d postgres -c "DROP DATABASE IF EXISTS shop" -c "CREATE DATABASE shop OWNER $VZ_PG_ADMIN_USER"
PGPASSWORD=$VZ_PG_ADMIN_PASSWORD psql -h 127.0.0.1 -p "$VZ_PG_PORT" -U "$VZ_PG_ADMIN_USER" -d shop \
  -qAt -v ON_ERROR_STOP=1 -v rows="$ROWS" -f "$shared/bench/orders-pg.sql" >/dev/null
PGPASSWORD=$VZ_PG_ADMIN_PASSWORD psql -h 127.0.0.1 -p "$VZ_PG_PORT" -U "$VZ_PG_ADMIN_USER" -d shop \
  -qAt -c "GRANT SELECT ON orders TO $VZ_PG_RO_USER"
pg_super -d postgres -c "GRANT CONNECT ON DATABASE shop TO $VZ_PG_RO_USER"
my_root -e "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop; GRANT SELECT ON shop.* TO '$VZ_MY_RO_USER'@'%'"
my_root shop -e "SET @rows=$ROWS; SOURCE $shared/bench/orders-mysql.sql;"

# Run a command, print "seconds maxrss_kb" of it.
measure() {
  if ! /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>"$work/err"; then
    echo "bench: failed: $*" >&2
    cat "$work/err" >&2
    return 1
  fi
  tail -1 "$work/time"
}
best() { # best of RUNS: "seconds rss"
  local b="" r
  for _ in $(seq 1 "$RUNS"); do
    r=$(measure "$@") || exit 1
    if [ -z "$b" ] || awk -v a="${r% *}" -v c="${b% *}" 'BEGIN{exit !(a<c)}'; then b=$r; fi
  done
  echo "$b"
}

data="$work/data"
# The cap is checked against the planner's estimate, which can be a little
# above the real count; the benchmark is about speed, not the cap.
export VECTORAIZ_DATA_DIR=$data DB_EXTRACT_MAX_ROWS=$((ROWS * 2 + 1000))
export PGPW=$VZ_PG_RO_PASSWORD MYPW=$VZ_MY_RO_PASSWORD
./vectoraiz conn add --name pgshop --type postgresql --host 127.0.0.1 --port "$VZ_PG_PORT" \
  --database shop --user "$VZ_PG_RO_USER" --password-env PGPW --ssl-mode disable >/dev/null
./vectoraiz conn add --name myshop --type mysql --host 127.0.0.1 --port "$VZ_MY_PORT" \
  --database shop --user "$VZ_MY_RO_USER" --password-env MYPW --ssl-mode disable >/dev/null

echo "bench: measuring" >&2
pg_vz=$(best ./vectoraiz extract pgshop --table orders) || exit 1
pg_ref=$(best env PGPASSWORD="$VZ_PG_RO_PASSWORD" psql -h 127.0.0.1 -p "$VZ_PG_PORT" -U "$VZ_PG_RO_USER" -d shop \
  -qAt -c "\\copy (SELECT * FROM orders) TO '/dev/null' (FORMAT binary)") || exit 1
my_vz=$(best ./vectoraiz extract myshop --table orders) || exit 1
my_ref=$(best mariadb --no-defaults -h 127.0.0.1 -P "$VZ_MY_PORT" -u "$VZ_MY_RO_USER" -p"$VZ_MY_RO_PASSWORD" \
  --quick --batch --raw -e 'SELECT * FROM orders' shop) || exit 1
pg_py=$(best /usr/bin/python3 "$here/sqlalchemy_fetch.py" \
  "postgresql+psycopg2://$VZ_PG_RO_USER:$VZ_PG_RO_PASSWORD@127.0.0.1:$VZ_PG_PORT/shop") || exit 1
my_py=$(best /usr/bin/python3 "$here/sqlalchemy_fetch.py" \
  "mysql+pymysql://$VZ_MY_RO_USER:$VZ_MY_RO_PASSWORD@127.0.0.1:$VZ_MY_PORT/shop") || exit 1
size=$(du -b "$data"/*.parquet | awk '{s += $1} END {print s}')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mb() { awk -v k="$1" 'BEGIN{printf "%.0f", k / 1024}'; }
row() { # label vz ref
  printf '| %s | %.2f s | %s MB | %.2f s | %s MB | %s× |\n' "$1" "${2% *}" "$(mb "${2#* }")" \
    "${3% *}" "$(mb "${3#* }")" "$(ratio "${2% *}" "${3% *}")"
}
{
  echo "### Extraction, $ROWS rows of orders ($(date -u +%Y-%m-%d), $(nproc) cores, best of $RUNS)"
  echo
  echo "| vectoraiz vs reference | vectoraiz | peak RSS | reference | peak RSS | ratio (lower is better) |"
  echo "|---|---|---|---|---|---|"
  row "PostgreSQL → Parquet vs psql \\copy binary to /dev/null" "$pg_vz" "$pg_ref"
  row "MariaDB → Parquet vs mariadb --quick to /dev/null" "$my_vz" "$my_ref"
  row "PostgreSQL vs SQLAlchemy fetchmany(10000)" "$pg_vz" "$pg_py"
  row "MariaDB vs SQLAlchemy fetchmany(10000)" "$my_vz" "$my_py"
  echo
  echo "Parquet written (both tables, zstd): $(awk -v b="$size" 'BEGIN{printf "%.1f", b / 1048576}') MB."
  echo
} | tee "$work/result.md"

results="$here/RESULTS.md"
[ -f "$results" ] || printf '# Benchmark results\n\nEach section is one run of a script in bench/; ratios compare against a reference measured in the same run.\n\n' >"$results"
cat "$work/result.md" >>"$results"
echo "bench: appended to bench/RESULTS.md" >&2
