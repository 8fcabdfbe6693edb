#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster from the machine's binaries (initdb
# into a temp folder, on a free loopback port, as a non-root user when run
# as root), prints its DSN and stops it again.
#
#   scripts/pg.sh                 start, print the DSN and (second line) a control script
#                                 (`ctl stop` / `ctl start`), wait until Ctrl-C or TERM, then stop
#   scripts/pg.sh -- CMD ARGS…    start, run CMD with CODEXAUTH_TEST_POSTGRES=<DSN>
#                                 (and CODEXAUTH_TEST_PGCTL=<stop|start helper>), stop, exit with CMD's status
#
# The cluster runs with fsync off (tests need speed, not durability across a power cut). PG_DURABLE=1 keeps
# PostgreSQL's durable defaults (fsync on) — what scripts/bench.sh measures. A -c fsync=off on the command line would
# win over ALTER SYSTEM, so durability must be chosen here, at start.
set -euo pipefail
fsync_opt="-c fsync=off"
[[ ${PG_DURABLE:-} == 1 ]] && fsync_opt=""

find_bin() {
  local name=$1 p
  if p=$(command -v "$name" 2>/dev/null); then echo "$p"; return; fi
  for p in /usr/lib/postgresql/*/bin/"$name"; do [[ -x $p ]] && { echo "$p"; return; }; done
  echo "pg.sh: $name not found: install PostgreSQL server binaries (Debian: apt-get install postgresql)" >&2
  exit 1
}
INITDB=$(find_bin initdb); PG_CTL=$(find_bin pg_ctl)

dir=$(mktemp -d "${TMPDIR:-/tmp}/codexauth-pg.XXXXXX")
chmod 755 "$dir"
as=()
if [[ $(id -u) == 0 ]]; then
  # PostgreSQL refuses to run as root: use its own account, else nobody.
  user=postgres; id "$user" >/dev/null 2>&1 || user=nobody
  chown "$user" "$dir"
  as=(runuser -u "$user" --)
fi

cleanup() {
  "${as[@]}" "$PG_CTL" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as[@]}" "$INITDB" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

port=""
for _ in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 20000))
  (exec 3<>/dev/tcp/127.0.0.1/$candidate) 2>/dev/null && continue
  if "${as[@]}" "$PG_CTL" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
       -o "-p $candidate -k $dir -c listen_addresses=127.0.0.1 $fsync_opt -c max_connections=200" start >/dev/null 2>&1; then
    port=$candidate; break
  fi
done
[[ -n $port ]] || { echo "pg.sh: could not start PostgreSQL; log:" >&2; cat "$dir/server.log" >&2; exit 1; }

dsn="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
# A helper the outage tests use to stop and restart this very cluster.
cat >"$dir/ctl" <<CTL
#!/usr/bin/env bash
exec ${as[*]} "$PG_CTL" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $fsync_opt -c max_connections=200" "\$@"
CTL
chmod 755 "$dir/ctl"

if [[ ${1:-} == "--" ]]; then
  shift
  echo "pg.sh: PostgreSQL on 127.0.0.1:$port (data $dir/data)" >&2
  set +e
  CODEXAUTH_TEST_POSTGRES=$dsn CODEXAUTH_TEST_PGCTL="$dir/ctl" "$@"
  status=$?
  exit $status
fi
echo "$dsn"
echo "$dir/ctl"
echo "pg.sh: running; Ctrl-C stops and deletes the cluster" >&2
while sleep 1; do :; done
