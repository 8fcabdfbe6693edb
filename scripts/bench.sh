#!/usr/bin/env bash
# Side-by-side refresh benchmark (issue 14; results in docs/benchmarks.md). Not part of the test run.
#
# In one sitting, alternating round by round: oauth2-mock-server@8 (npm, installed into the cache), and
# `codexauth serve` on memory, SQLite and PostgreSQL (a throwaway cluster from scripts/pg.sh, fsync turned on).
# Each is driven by internal/cmd/loadgen: CLIENTS clients sign in (device flow) and each refreshes its own chain
# for DURATION, every answer checked; then bearer validations through POST /internal/codex-auth/validate. Then the
# scale runs: SQLite and PostgreSQL seeded with each of SCALE live families. Prints the Markdown tables, including the
# ratio to the peer and to the two-signature ceiling measured here (go test -bench RS256Sign).
#
#   scripts/bench.sh                       ROUNDS=3 DURATION=10s CLIENTS=16 SCALE="10000 1000000"
#   ROUNDS=1 DURATION=5s SCALE= scripts/bench.sh     a quick look, no scale runs
#   INPROCESS=1 scripts/bench.sh           also the in-process go test benchmarks and the conformance suite's wall time
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything runs inside one PostgreSQL cluster's lifetime.
if [[ -z ${CODEXAUTH_TEST_POSTGRES:-} ]]; then
  PG_DURABLE=1 exec scripts/pg.sh -- "$0" "$@"
fi

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
VALIDATE=${VALIDATE:-5s}
CLIENTS=${CLIENTS:-16}
SCALE=${SCALE-10000 1000000}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/codexauth/bench
secret=bench-internal-secret-$RANDOM$RANDOM$RANDOM

command -v node >/dev/null || { echo "bench.sh: node and npm are needed for oauth2-mock-server" >&2; exit 1; }
mkdir -p "$cache"
if [[ ! -f $cache/node_modules/oauth2-mock-server/package.json ]]; then
  echo "installing oauth2-mock-server@8 into $cache" >&2
  npm install --prefix "$cache" --no-audit --no-fund --silent oauth2-mock-server@8 >&2
fi
mock_version=$(node -p "require('$cache/node_modules/oauth2-mock-server/package.json').version")
mock_bin=$cache/node_modules/oauth2-mock-server/dist/oauth2-mock-server.mjs
peer="oauth2-mock-server $mock_version"

work=$(mktemp -d "${TMPDIR:-/tmp}/codexauth-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/codexauth" ./cmd/codexauth
go build -o "$work/loadgen" ./internal/cmd/loadgen
results=$work/results.jsonl
: >"$results"

echo "== machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB," \
  "$(go version | cut -d' ' -f3), node $(node --version), $(date -u +%Y-%m-%dT%H:%MZ); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo "== signing ceiling: go test -bench RS256Sign ./internal/loadgen" >&2
go test -run '^$' -bench 'RS256Sign' -benchtime 2s ./internal/loadgen | tee "$work/sign.txt" | grep '^Benchmark' >&2
# The peer signs with node's OpenSSL, not Go's constant-time RSA: measure that too, or the ratio to it reads as
# overhead when it is the cost of one signature against another.
peer_sign=$(node -e "
const c = require('crypto'); const {privateKey} = c.generateKeyPairSync('rsa', {modulusLength: 2048});
const d = Buffer.alloc(300, 1); let n = 0; const t = process.hrtime.bigint();
while (process.hrtime.bigint() - t < 2000000000n) { c.sign('sha256', d, privateKey); n++; }
console.log((Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1) + ' µs on one core (node ' + process.version + ', OpenSSL ' + process.versions.openssl + ')');")
echo "RS256 signature in $peer's signer: $peer_sign" >&2

# run LABEL [loadgen flags…] -- SERVER ARGS…   (one measured sitting, appended to the results)
run() {
  local label=$1; shift
  "$work/loadgen" run -label "$label" -clients "$CLIENTS" -duration "$DURATION" -log "$work/server.log" "$@" >>"$results" ||
    { echo "bench.sh: $label failed; server log:" >&2; tail -20 "$work/server.log" >&2; exit 1; }
}
serve() { echo "$work/codexauth" serve --addr '127.0.0.1:{port}' --auto-approve alice --internal-secret "$secret" --log-level warn --store; }

run_mock() {
  run "$peer" -kind oauth2-mock-server -ready-path /.well-known/openid-configuration -token-path /token -validate 0 \
    -- node "$mock_bin" -a 127.0.0.1 -p '{port}'
}
run_memory() { run "codexauth memory" -validate "$VALIDATE" -secret "$secret" -- $(serve) memory; }
run_sqlite() {
  rm -f "$work"/bench.db*
  run "codexauth sqlite" -validate "$VALIDATE" -secret "$secret" -- $(serve) "sqlite:$work/bench.db"
}
run_postgres() {
  local dsn; dsn=$("$work/loadgen" pgdb -name codexauth_bench)
  run "codexauth postgres" -validate "$VALIDATE" -secret "$secret" -- $(serve) "$dsn"
}

targets=(mock memory sqlite postgres)
for ((r = 0; r < ROUNDS; r++)); do
  # Rotate the order every round, so no server always runs first (or right after another's load).
  for ((i = 0; i < ${#targets[@]}; i++)); do
    "run_${targets[(i + r) % ${#targets[@]}]}"
  done
done

for n in $SCALE; do
  echo "== seeding $n live families into SQLite and PostgreSQL" >&2
  "$work/loadgen" seed -store "sqlite:$work/scale-$n.db" -families "$n"
  dsn=$("$work/loadgen" pgdb -name "codexauth_scale_$n")
  "$work/loadgen" seed -store "$dsn" -families "$n"
  echo "$dsn" >"$work/scale-$n.dsn"
done
for ((r = 0; r < (ROUNDS < 2 ? ROUNDS : 2); r++)); do
  for n in $SCALE; do
    run "codexauth sqlite" -families "$n" -validate 0 -- $(serve) "sqlite:$work/scale-$n.db"
    run "codexauth postgres" -families "$n" -validate 0 -- $(serve) "$(cat "$work/scale-$n.dsn")"
  done
done

echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$work/loadgen" report -results "$results" -sign "$work/sign.txt" -peer "$peer"
echo "RS256 signature in $peer's signer: $peer_sign"
if [[ -n ${BENCH_RESULTS:-} ]]; then cp "$results" "$BENCH_RESULTS"; fi

if [[ -n ${INPROCESS:-} ]]; then
  echo
  echo "== in process: go test -bench (issuer: validate; stores: rotation)"
  go test -run '^$' -bench . -benchtime "${BENCHTIME:-3000x}" ./issuer/ ./issuer/store/... 2>&1 | grep -E '^(Benchmark|ok)'
  echo "== conformance suite against the built-in issuer (wall time, 5 runs, without the codex-cli profile)"
  for i in 1 2 3 4 5; do
    s=$(date +%s%N); "$work/codexauth" conform --quiet --no-codex --out "$work/r$i" >/dev/null; e=$(date +%s%N)
    echo "run $i: $(( (e - s) / 1000000 )) ms"
  done
fi
