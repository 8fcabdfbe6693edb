#!/usr/bin/env bash
# Runs every fuzz target (`go test -fuzz`) for a given time, one after the
# other, and prints per target: time run, corpus size, crashes.
#
#   scripts/fuzz.sh               10 minutes per target
#   scripts/fuzz.sh 3s            a smoke run (scripts/test.sh does this)
#   scripts/fuzz.sh 10m --doc docs/fuzzing.md   also write the figures there
#
# FUZZ_PARALLEL sets the fuzz workers per target (default 1: the machine is
# shared). FUZZ_ONLY=FuzzJWT,FuzzJWKS runs only those targets.
# A crash leaves its input in the package's testdata/fuzz/<target>/ (commit it
# with the fix: `go test` replays it from then on) and the script exits 1.
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
parallel=${FUZZ_PARALLEL:-1}
cache=$(go env GOCACHE)/fuzz
module=$(go list -m)

# Packages with fuzz targets: the issuer's body parsers and user codes, its
# endpoints, and everything the harness parses from an issuer.
packages=(./issuer/input ./issuer/fuzz ./harness/wire)

count() { [[ -d $1 ]] && find "$1" -type f | wc -l || echo 0; }

rows=()
crashed=0
printf '%-22s %-16s %8s %9s %8s %7s\n' target package "time" execs corpus crashes
for pkg in "${packages[@]}"; do
  importpath=$module/${pkg#./}
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    if [[ -n ${FUZZ_ONLY:-} && ,$FUZZ_ONLY, != *,$target,* ]]; then continue; fi
    testdata=$pkg/testdata/fuzz/$target
    before=$(count "$testdata")
    log=$(mktemp)
    start=$(date +%s)
    status=0
    go test -run '^$' -fuzz "^$target\$" -fuzztime "$duration" -parallel "$parallel" -timeout 0 "$pkg" >"$log" 2>&1 || status=$?
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2 || true) # none within a very short run
    crashes=$(( $(count "$testdata") - before ))
    if [[ $status != 0 && $crashes == 0 ]]; then crashes=1; fi # failed without writing an input: see the log
    corpus=$(( $(count "$testdata") + $(count "$cache/$importpath/$target") ))
    printf '%-22s %-16s %7ss %9s %8s %7s\n' "$target" "${pkg#./}" "$secs" "${execs:-0}" "$corpus" "$crashes"
    rows+=("| \`$target\` | \`${pkg#./}\` | ${secs} s | ${execs:-0} | $corpus | $crashes |")
    if [[ $status != 0 ]]; then
      crashed=1
      sed -n '/--- FAIL/,$p' "$log" | head -n 30 >&2
    fi
    rm -f "$log"
  done
done

if [[ -n $doc ]]; then
  {
    echo "# Fuzzing"
    echo
    echo "\`scripts/fuzz.sh $duration\` on $(date -u +%Y-%m-%d), $(go version | cut -d' ' -f3), $parallel worker(s) per target, one target after the other."
    echo "Corpus: the committed seeds (testdata/fuzz/<target>) plus what the fuzzer kept in \`\$(go env GOCACHE)/fuzz\`."
    echo
    echo "| target | package | time run | executions | corpus | crashes |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } >"$doc"
  echo "wrote $doc"
fi
exit $crashed
