#!/usr/bin/env bash
# Throwaway PostgreSQL 15 + MariaDB 10.11 servers for the vectoraiz tests.
#
#   scripts/testdb.sh start    start both (or reuse running ones); print env
#   scripts/testdb.sh env      print the env of the running pair
#   scripts/testdb.sh status   report each server; exit 0 only if both are up
#   scripts/testdb.sh stop     stop both, delete their files and the state file
#
# Typical use:   eval "$(scripts/testdb.sh start)"
# (eval of an empty string succeeds, so where a failed start must stop a
# script, use:   env=$(scripts/testdb.sh start) && eval "$env")
#
# Both servers listen on 127.0.0.1 only, on free ports picked at start, and
# keep every byte of their data in one directory made by `mktemp -d` under
# /tmp. Nothing touches the system's own PostgreSQL/MariaDB configuration or
# services. The fixtures tests/fixtures/pg.sql and tests/fixtures/mysql.sql
# are loaded by the admin role, so that role owns every fixture object.
#
# The running pair is described by a state file (export lines, the same ones
# `start` and `env` print): $VZ_TESTDB_STATE, default <repo>/.testdb-env.
#
# Only stdout carries the export lines; all progress and errors go to stderr.
#
# Runs as root or as an ordinary user. As root, PostgreSQL runs as the
# `postgres` system user (it refuses root) and MariaDB drops to `mysql`.
# VZ_PG_BIN overrides the PostgreSQL bin directory.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${VZ_TESTDB_STATE:-$repo/.testdb-env}
fixtures=$repo/tests/fixtures

PG_BIN=${VZ_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_SUPERUSER=postgres      # bootstrap superuser made by initdb
MY_SUPERUSER=root          # made by mariadb-install-db; socket only, no password
DB=vz_test
ADMIN=vz_admin
READER=vz_reader
WAIT_SECS=60               # upper bound for each server to accept connections
TMP_PREFIX=/tmp/vz-testdb. # every temp dir we make (and may delete) starts so
MARKER=.vz-testdb          # ... and holds this file; `stop` checks for both

# Every variable the state file holds, in the order it is written.
VARS=(VZ_TESTDB_DIR
      VZ_PG_HOST VZ_PG_PORT VZ_PG_DB VZ_PG_ADMIN_USER VZ_PG_ADMIN_PASSWORD
      VZ_PG_RO_USER VZ_PG_RO_PASSWORD VZ_PG_SUPERUSER VZ_PG_SOCKET_DIR VZ_PG_PID
      VZ_MY_HOST VZ_MY_PORT VZ_MY_DB VZ_MY_ADMIN_USER VZ_MY_ADMIN_PASSWORD
      VZ_MY_RO_USER VZ_MY_RO_PASSWORD VZ_MY_SUPERUSER VZ_MY_SOCKET VZ_MY_PID)

log() { printf 'testdb: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the OS user that owns the PostgreSQL files: `postgres`
# when we are root (the server refuses to run as root), else ourselves.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# "vzpw-" + 16 random hex digits: unique per start, easy to grep for in logs.
new_password() {
  printf 'vzpw-%s' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
}

# Print two distinct TCP ports that are free on 127.0.0.1 right now. Both
# sockets stay bound until both are known, so the kernel cannot hand out the
# same port twice. (Another program could still grab one before our servers
# bind it; that race is harmless in practice and fails loudly if it happens.)
free_ports() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
    return
  fi
  # No python: probe random high ports; a refused connection means unused.
  local found=() p
  while [ "${#found[@]}" -lt 2 ]; do
    p=$((20000 + RANDOM % 40000))
    [ "${#found[@]}" -eq 1 ] && [ "${found[0]}" = "$p" ] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then found+=("$p"); fi
  done
  echo "${found[*]}"
}

# Is PID a live (not zombie) process?
pid_alive() {
  local st
  [ -n "$1" ] && st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "${st:0:1}" != Z ]
}

# pid_is PID COMM DIR: is PID a live COMM process (postgres, mariadbd) whose
# command line names something inside DIR? Both servers are started with
# their data dir on the command line, so this tells our server from an
# unrelated process that got the same pid after a reboot.
pid_is() {
  local pid=$1 comm=$2 dir=$3
  pid_alive "$pid" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/"
}

# find_server COMM DIR: print the pid of our COMM server working in DIR, if
# any. Used when a start was cut short before the pids were recorded.
find_server() {
  local comm=$1 dir=$2 p
  for p in /proc/[0-9]*; do
    if pid_is "${p#/proc/}" "$comm" "$dir"; then
      echo "${p#/proc/}"
      return 0
    fi
  done
}

# Last lines of a log file, indented, to stderr (for failure reports).
show_log() {
  local f=$1
  [ -f "$f" ] || return 0
  log "---- last lines of $f ----"
  tail -n 25 "$f" | sed 's/^/  | /' >&2
}

# --- state file --------------------------------------------------------------

# Load the state file into the VZ_* variables; fail if there is none. Any
# VZ_* values inherited from the caller's environment are dropped first so
# only the file speaks.
load_state() {
  unset "${VARS[@]}"
  [ -f "$state" ] || return 1
  # shellcheck disable=SC1090
  . "$state"
  [ -n "${VZ_TESTDB_DIR:-}" ]
}

# The export lines, one per variable, values shell-quoted when needed.
print_env() {
  local v
  for v in "${VARS[@]}"; do
    printf 'export %s=%q\n' "$v" "${!v-}"
  done
}

# --- health checks -------------------------------------------------------------

pg_up() {
  pid_is "${VZ_PG_PID:-}" postgres "$VZ_TESTDB_DIR" &&
    "$PG_BIN/pg_isready" -q -h "$VZ_PG_SOCKET_DIR" -p "$VZ_PG_PORT" -t 3
}

my_up() {
  pid_is "${VZ_MY_PID:-}" mariadbd "$VZ_TESTDB_DIR" &&
    mariadb-admin --no-defaults --connect-timeout=3 -S "$VZ_MY_SOCKET" \
      -u "$VZ_MY_SUPERUSER" ping >/dev/null 2>&1
}

# --- stopping --------------------------------------------------------------------

# stop_pid PID COMM DIR NAME SIG...: send the first signal, wait for the
# process to go, escalating through the remaining signals; each step gets a
# bounded wait. Does nothing if PID is not (any more) the server we started.
stop_pid() {
  local pid=$1 comm=$2 dir=$3 name=$4 sig i
  shift 4
  pid_is "$pid" "$comm" "$dir" || return 0
  for sig in "$@"; do
    log "stopping $name (pid $pid, SIG$sig)"
    kill -s "$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do        # up to 10 s per signal
      pid_is "$pid" "$comm" "$dir" || return 0
      sleep 0.1
    done
  done
  pid_is "$pid" "$comm" "$dir" && log "warning: $name (pid $pid) did not exit"
  return 0
}

# Stop whatever the state file describes and remove its files. Never fails:
# it is also the cleanup for half-started and stale states.
do_stop() {
  if ! load_state; then
    rm -f "$state"
    return 0
  fi
  local d=$VZ_TESTDB_DIR pg_pid=${VZ_PG_PID:-} my_pid=${VZ_MY_PID:-}
  # A start that failed or was interrupted may not have recorded the pids.
  [ -n "$pg_pid" ] || pg_pid=$(find_server postgres "$d")
  [ -n "$my_pid" ] || my_pid=$(find_server mariadbd "$d")
  # PostgreSQL: SIGINT = fast shutdown, SIGQUIT = immediate, then SIGKILL.
  stop_pid "$pg_pid" postgres "$d" PostgreSQL INT QUIT KILL
  # MariaDB: SIGTERM = normal shutdown, then SIGKILL.
  stop_pid "$my_pid" mariadbd "$d" MariaDB TERM KILL
  # Delete the temp dir only if it is unmistakably one of ours.
  if [ -d "$d" ]; then
    if [[ $d == "$TMP_PREFIX"* ]] && [ -f "$d/$MARKER" ]; then
      rm -rf -- "$d"
    else
      log "warning: not deleting $d (does not look like a testdb dir)"
    fi
  fi
  rm -f "$state"
}

# --- PostgreSQL --------------------------------------------------------------

# Create, configure and start the cluster, create the roles and database,
# load the fixture, grant read access. Runs in a background subshell.
setup_pg() {
  local base=$VZ_TESTDB_DIR/pg
  local data=$base/data log=$base/postgres.log
  local sql=(psql -X -q -v ON_ERROR_STOP=1 -h "$VZ_PG_SOCKET_DIR" -p "$VZ_PG_PORT"
             -U "$PG_SUPERUSER")

  mkdir -p "$base" "$VZ_PG_SOCKET_DIR"
  is_root && chown postgres: "$base" "$VZ_PG_SOCKET_DIR"
  chmod 755 "$base" "$VZ_PG_SOCKET_DIR"

  log "postgres: initdb"
  # --no-sync: nothing here needs to survive a power cut. C collation keeps
  # ORDER BY identical everywhere; a UTF-8 ctype makes upper()/ILIKE work on
  # non-ASCII text.
  if ! (cd "$base" && as_pg "$PG_BIN/initdb" -D "$data" -U "$PG_SUPERUSER" \
        -E UTF8 --lc-collate=C --lc-ctype=C.UTF-8 --lc-messages=C \
        --lc-monetary=C --lc-numeric=C --lc-time=C \
        -A trust --no-sync --no-instructions >"$base/initdb.log" 2>&1); then
    show_log "$base/initdb.log"
    die "postgres: initdb failed"
  fi

  # Settings appended last win over initdb's defaults.
  cat >>"$data/postgresql.conf" <<EOF

# ---- vectoraiz testdb ----
listen_addresses = '127.0.0.1'
port = $VZ_PG_PORT
unix_socket_directories = '$VZ_PG_SOCKET_DIR'
ssl = off
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
max_connections = 50
shared_buffers = 32MB
# Durability is pointless for throwaway data; these make start/load fast.
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
EOF
  # Trust only the superuser on the private unix socket; every other login,
  # and every TCP login, must give a password (SCRAM).
  cat >"$data/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER               ADDRESS        METHOD
local   all       $PG_SUPERUSER                     trust
local   all       all                               scram-sha-256
host    all       all                127.0.0.1/32   scram-sha-256
EOF

  log "postgres: starting on 127.0.0.1:$VZ_PG_PORT"
  # setsid + closed descriptors: the server must not hold the caller's
  # terminal, pipes (e.g. the $(...) in `eval "$(testdb.sh start)"`) or lock.
  if ! (cd "$base" && as_pg setsid "$PG_BIN/pg_ctl" -D "$data" -l "$log" \
        -w -t "$WAIT_SECS" start </dev/null >"$base/pg_ctl.log" 2>&1 9<&-); then
    show_log "$base/pg_ctl.log"
    show_log "$log"
    die "postgres: server did not start within ${WAIT_SECS}s"
  fi
  head -n 1 "$data/postmaster.pid" >"$base/pid"

  log "postgres: creating roles and database $DB"
  "${sql[@]}" -d postgres <<EOF
CREATE ROLE $ADMIN LOGIN PASSWORD '$VZ_PG_ADMIN_PASSWORD';
CREATE ROLE $READER LOGIN PASSWORD '$VZ_PG_RO_PASSWORD';
CREATE DATABASE $DB OWNER $ADMIN ENCODING 'UTF8' TEMPLATE template0;
-- Only the two roles may connect; nobody gets temp tables by default.
REVOKE ALL ON DATABASE $DB FROM PUBLIC;
GRANT CONNECT ON DATABASE $DB TO $READER;
EOF
  # Default privileges first, so everything the admin creates while loading
  # the fixture (and anything tests create later) is readable by the reader.
  "${sql[@]}" -d "$DB" <<EOF
ALTER DEFAULT PRIVILEGES FOR ROLE $ADMIN GRANT USAGE ON SCHEMAS TO $READER;
ALTER DEFAULT PRIVILEGES FOR ROLE $ADMIN GRANT SELECT ON TABLES TO $READER;
GRANT USAGE ON SCHEMA public TO $READER;
EOF

  log "postgres: loading $fixtures/pg.sql as $ADMIN"
  PGPASSWORD=$VZ_PG_ADMIN_PASSWORD PGSSLMODE=disable \
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$VZ_PG_PORT" \
    -U "$ADMIN" -d "$DB" -f "$fixtures/pg.sql" >/dev/null \
    || die "postgres: loading pg.sql failed"

  # Belt and braces: explicit grants on every non-system schema that exists
  # now, in case a fixture object escaped the default privileges.
  "${sql[@]}" -d "$DB" <<EOF
DO \$\$
DECLARE s text;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace
           WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO $READER', s);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO $READER', s);
  END LOOP;
END
\$\$;
EOF
  log "postgres: ready"
}

# --- MariaDB -------------------------------------------------------------------

# Create the data directory, start the server, create databases and users,
# load the fixture. Runs in a background subshell.
setup_my() {
  local base=$VZ_TESTDB_DIR/my
  local data=$base/data log=$base/mariadbd.log pidfile=$base/mariadbd.pid
  local user_opt=() root_sql

  mkdir -p "$base"
  chmod 755 "$base"
  # As root, the server drops to the `mysql` system user (it owns the files).
  if is_root; then
    chown mysql: "$base"
    user_opt=(--user=mysql)
  fi
  root_sql=(mariadb --no-defaults -S "$VZ_MY_SOCKET" -u "$MY_SUPERUSER")

  log "mariadb: mariadb-install-db"
  # "normal" root auth = root@localhost without password, so any OS user can
  # use the socket (unix_socket auth would only admit OS root).
  if ! (cd "$base" && mariadb-install-db --no-defaults --datadir="$data" \
        "${user_opt[@]}" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve >"$base/install-db.log" 2>&1); then
    show_log "$base/install-db.log"
    die "mariadb: mariadb-install-db failed"
  fi

  log "mariadb: starting on 127.0.0.1:$VZ_MY_PORT"
  # --no-defaults ignores /etc/mysql, so charset and time zone are set here.
  # No SSL options and --skip-ssl: the server has no TLS at all.
  (cd "$base" && exec setsid mariadbd --no-defaults "${user_opt[@]}" \
    --datadir="$data" --socket="$VZ_MY_SOCKET" --port="$VZ_MY_PORT" \
    --bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$log" \
    --tmpdir="$base" --skip-ssl --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --default-time-zone=+00:00 --max-connections=50 \
    --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 \
    --innodb-doublewrite=0 --skip-innodb-buffer-pool-load-at-startup \
    --skip-innodb-buffer-pool-dump-at-shutdown \
    </dev/null >"$base/mariadbd.out" 2>&1 9<&-) &
  local launcher=$! deadline=$((SECONDS + WAIT_SECS))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "${root_sql[@]}" -e 'SELECT 1' >/dev/null 2>&1; then break; fi
    # The launcher subshell exec's setsid, which exec's the server, so the
    # same pid is the server: if it is gone (or a zombie), the server died.
    if ! pid_alive "$launcher"; then
      show_log "$base/mariadbd.out"
      show_log "$log"
      die "mariadb: server exited during startup"
    fi
    sleep 0.1
  done
  if ! "${root_sql[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
    show_log "$log"
    die "mariadb: server did not accept connections within ${WAIT_SECS}s"
  fi
  cp "$pidfile" "$base/pid"

  log "mariadb: creating databases and users"
  # Drop the accounts install-db made that we do not want: root over TCP
  # (passwordless!), root@<hostname>, anonymous users (they would shadow
  # 'vz_admin'@'%' on socket logins).
  "${root_sql[@]}" <<EOF
DELETE FROM mysql.global_priv
  WHERE (User = 'root' AND Host <> 'localhost') OR User = '';
FLUSH PRIVILEGES;
CREATE DATABASE $DB;
CREATE DATABASE vz_sales;
CREATE DATABASE vz_empty;
CREATE USER '$ADMIN'@'%' IDENTIFIED BY '$VZ_MY_ADMIN_PASSWORD';
CREATE USER '$READER'@'%' IDENTIFIED BY '$VZ_MY_RO_PASSWORD';
GRANT ALL PRIVILEGES ON $DB.* TO '$ADMIN'@'%';
GRANT ALL PRIVILEGES ON vz_sales.* TO '$ADMIN'@'%';
GRANT ALL PRIVILEGES ON vz_empty.* TO '$ADMIN'@'%';
GRANT SELECT, SHOW VIEW ON $DB.* TO '$READER'@'%';
GRANT SELECT, SHOW VIEW ON vz_sales.* TO '$READER'@'%';
GRANT SELECT, SHOW VIEW ON vz_empty.* TO '$READER'@'%';
EOF

  log "mariadb: loading $fixtures/mysql.sql as $ADMIN"
  MYSQL_PWD=$VZ_MY_ADMIN_PASSWORD mariadb --no-defaults -h 127.0.0.1 \
    -P "$VZ_MY_PORT" -u "$ADMIN" "$DB" <"$fixtures/mysql.sql" >/dev/null \
    || die "mariadb: loading mysql.sql failed"
  log "mariadb: ready"
}

# --- commands ------------------------------------------------------------------

# (The VZ_* assignments below are read indirectly, by print_env.)
# shellcheck disable=SC2034
do_start() {
  if load_state; then
    if pg_up && my_up; then
      log "already running (state: $state)"
      print_env
      return 0
    fi
    log "stale state in $state: cleaning up"
    do_stop
  fi
  rm -f "$state"

  local f
  for f in "$fixtures/pg.sql" "$fixtures/mysql.sql"; do
    [ -r "$f" ] || die "missing fixture $f"
  done
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL 15 in $PG_BIN (run scripts/setup.sh)"
  command -v mariadbd >/dev/null || die "no mariadbd (run scripts/setup.sh)"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
    id mysql >/dev/null 2>&1 || die "running as root but there is no 'mysql' user"
  fi

  local ports
  ports=$(free_ports)
  VZ_TESTDB_DIR=$(mktemp -d "${TMP_PREFIX}XXXXXXXX")
  : >"$VZ_TESTDB_DIR/$MARKER"
  chmod 755 "$VZ_TESTDB_DIR"   # the postgres/mysql users must reach their dirs
  VZ_PG_HOST=127.0.0.1
  VZ_PG_PORT=${ports% *}
  VZ_PG_DB=$DB
  VZ_PG_ADMIN_USER=$ADMIN
  VZ_PG_ADMIN_PASSWORD=$(new_password)
  VZ_PG_RO_USER=$READER
  VZ_PG_RO_PASSWORD=$(new_password)
  VZ_PG_SUPERUSER=$PG_SUPERUSER
  VZ_PG_SOCKET_DIR=$VZ_TESTDB_DIR/pg/socket
  VZ_MY_HOST=127.0.0.1
  VZ_MY_PORT=${ports#* }
  VZ_MY_DB=$DB
  VZ_MY_ADMIN_USER=$ADMIN
  VZ_MY_ADMIN_PASSWORD=$(new_password)
  VZ_MY_RO_USER=$READER
  VZ_MY_RO_PASSWORD=$(new_password)
  VZ_MY_SUPERUSER=$MY_SUPERUSER
  VZ_MY_SOCKET=$VZ_TESTDB_DIR/my/mysqld.sock
  VZ_PG_PID=
  VZ_MY_PID=

  # Write the state file before anything starts, so that a failure (or a
  # Ctrl-C) part way leaves something `stop` can clean up. PIDs follow.
  print_env >"$state"

  log "starting in $VZ_TESTDB_DIR"
  # Both servers are set up at the same time; each half reports on stderr.
  # (Background jobs of a script ignore SIGINT, hence the explicit kill of
  # the two halves if we are interrupted.)
  setup_pg &
  pg_job=$!
  setup_my &
  my_job=$!
  trap 'log "interrupted: cleaning up"; kill "$pg_job" "$my_job" 2>/dev/null;
        wait; do_stop; exit 130' INT TERM HUP
  local ok=1
  wait "$pg_job" || ok=0
  wait "$my_job" || ok=0
  trap - INT TERM HUP

  # Record whatever started, even on failure, so stop can reach it.
  [ -f "$VZ_TESTDB_DIR/pg/pid" ] && VZ_PG_PID=$(cat "$VZ_TESTDB_DIR/pg/pid")
  [ -f "$VZ_TESTDB_DIR/my/pid" ] && VZ_MY_PID=$(cat "$VZ_TESTDB_DIR/my/pid")
  print_env >"$state"

  if [ "$ok" -ne 1 ]; then
    log "start failed; cleaning up"
    do_stop
    exit 1
  fi
  log "both servers up (state: $state)"
  print_env
}

do_env() {
  load_state || die "not running (no state file $state); run: scripts/testdb.sh start"
  if pg_up && my_up; then
    print_env
  else
    die "state file $state is stale (a server is down); run: scripts/testdb.sh start"
  fi
}

do_status() {
  if ! load_state; then
    echo "postgres: down (no state file)"
    echo "mariadb:  down (no state file)"
    return 1
  fi
  local rc=0
  if pg_up; then
    echo "postgres: up   (pid $VZ_PG_PID, $VZ_PG_HOST:$VZ_PG_PORT, db $VZ_PG_DB)"
  else
    echo "postgres: down"
    rc=1
  fi
  if my_up; then
    echo "mariadb:  up   (pid $VZ_MY_PID, $VZ_MY_HOST:$VZ_MY_PORT, db $VZ_MY_DB)"
  else
    echo "mariadb:  down"
    rc=1
  fi
  echo "dir: $VZ_TESTDB_DIR  state: $state"
  return "$rc"
}

usage() {
  echo "usage: $0 start|stop|env|status" >&2
  exit 2
}

[ $# -eq 1 ] || usage

# One command at a time per state file: concurrent `start`s would otherwise
# race to launch two pairs. The lock is the directory holding the state file
# (no extra file to clean up); the servers never inherit it (9<&- above).
exec 9<"$(dirname "$state")" || die "cannot open $(dirname "$state")"
flock 9

case $1 in
  start)  do_start ;;
  stop)   do_stop; log "stopped" ;;
  env)    do_env ;;
  status) do_status ;;
  *)      usage ;;
esac
