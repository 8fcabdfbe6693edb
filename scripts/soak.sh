#!/usr/bin/env bash
# The crash and fault soak, long form (`go test` runs the short one): clients
# refresh their own chains and present stale tokens against two
# `codexauth serve` replicas on PostgreSQL and one on SQLite while a driver
# kill -9s and restarts issuers 20 times, restarts PostgreSQL twice and fills
# the SQLite disk once — spread over DURATION, with more clients.
#
#   scripts/soak.sh                 10 minutes
#   scripts/soak.sh 30m --doc docs/soak.md   also write the figures there
#
# Needs PostgreSQL server binaries (the soak starts and restarts its own
# cluster through scripts/pg.sh) and root for the tmpfs it fills; without
# root the disk-full episode is reported NOT RUN and the test skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10m
doc=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --doc) doc=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) duration=$1; shift ;;
  esac
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
CODEXAUTH_SOAK_DURATION=$duration go test -count=1 -timeout 0 -run '^TestCrashAndFaultSoak$' -v ./cmd/codexauth 2>&1 | tee "$log" | grep -E '^(soak |--- |ok |FAIL|PASS)|NOT RUN|permanent error|fork:|newest refresh token' || true
grep -q '^--- PASS: TestCrashAndFaultSoak' "$log" || status=1
summary=$(grep -m1 '^soak ' "$log" || true)
if [[ -n $doc && -n $summary ]]; then
  {
    echo "# Crash and fault soak"
    echo
    echo "\`scripts/soak.sh $duration\` on $(date -u +%Y-%m-%d) ($(go version | cut -d' ' -f3), $(nproc) cores): \`TestCrashAndFaultSoak\` (cmd/codexauth/soak_test.go)."
    echo
    echo '```'
    echo "$summary" | sed 's/): /):\n/' | sed '2,$s/, /\n/g'
    echo '```'
    echo
    echo "Result: $( ((status == 0)) && echo passed || echo FAILED )."
  } >"$doc"
  echo "wrote $doc"
fi
exit $status
