#!/usr/bin/env bash
# Benchmarks (numbers go to docs/benchmarks.md with the machine they came from):
# validate throughput, token-endpoint refresh on each store, the conformance suite's wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3)"
echo "== go test -bench (issuer: validate; stores: rotation)"
scripts/pg.sh -- go test -run '^$' -bench . -benchtime "${BENCHTIME:-3000x}" ./issuer/ ./issuer/store/... 2>&1 | grep -E '^(Benchmark|ok|pg.sh)'
echo "== conformance suite against the built-in issuer (wall time, 5 runs)"
bin=$(mktemp -d)/codexauth
go build -o "$bin" ./cmd/codexauth
for i in 1 2 3 4 5; do
  s=$(date +%s%N); "$bin" conform --quiet --no-codex --out "$(dirname "$bin")/r$i" >/dev/null; e=$(date +%s%N)
  echo "run $i: $(( (e - s) / 1000000 )) ms (without the codex-cli profile)"
done
s=$(date +%s%N); "$bin" conform --quiet --out "$(dirname "$bin")/rc" >/dev/null; e=$(date +%s%N)
echo "with the real codex (codex-cli profile): $(( (e - s) / 1000000 )) ms"
