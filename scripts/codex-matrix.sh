#!/usr/bin/env bash
# The codex version matrix (docs/codex-versions.md, issue 18). For each codex release:
#   1. installs it into the cache (scripts/install-codex.sh VERSION);
#   2. captures what it sends (`codexauth capture`) into fixtures/golden/capture-codex-VERSION.txt
#      and prints its protocol drift from the pinned release;
#   3. runs `codexauth selftest --codex-versions LIST`: the codex-cli profile with each release and the
#      agreement oracle (the real codex of each release against every fault it can observe and the
#      version scenarios, compared with the suite speaking for that release), one table, written to
#      docs/codex-versions.md.
#
#   scripts/codex-matrix.sh [VERSION ...]     default: the releases listed below
#   CODEX_MATRIX_CHECK=1                      CI: write nothing; fail when a release's capture drifts from
#                                             the one kept in fixtures/golden, or the matrix disagrees
#
# scripts/test.sh runs the pinned release only; this script is separate (about 2 minutes per release).
set -euo pipefail
cd "$(dirname "$0")/.."

versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(0.166.0 0.167.2 0.168.0 0.169.0 0.169.1 0.171.0)
pinned=$(sed -n 's/^pinned=//p' scripts/install-codex.sh)
check=${CODEX_MATRIX_CHECK:-0}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/codexauth" ./cmd/codexauth

echo "==> installing codex ${versions[*]} (and the pinned $pinned)"
for v in "$pinned" "${versions[@]}"; do scripts/install-codex.sh "$v" >/dev/null; done

echo "==> captures (what each release sends), drift from the pinned $pinned"
ordered=("$pinned")
for v in "${versions[@]}"; do [[ $v == "$pinned" ]] || ordered+=("$v"); done
status=0
for v in "${ordered[@]}"; do
  kept=fixtures/golden/capture-codex-$v.txt
  if [[ $check == 1 ]]; then
    # The kept capture must still be what this release sends.
    if [[ ! -f $kept ]]; then echo "codex-matrix: no capture kept for $v ($kept)" >&2; status=1; continue; fi
    "$work/codexauth" capture --codex-version "$v" --out "$work/capture-$v.txt" --against "$kept" --fail-on-drift || status=1
  else
    "$work/codexauth" capture --codex-version "$v" --out "$kept" --against "fixtures/golden/capture-codex-$pinned.txt"
  fi
done

echo "==> version matrix"
list=$(IFS=,; echo "${versions[*]}")
doc=(--doc docs/codex-versions.md)
[[ $check == 1 ]] && doc=()
"$work/codexauth" selftest --codex-versions "$list" "${doc[@]}" || status=1
exit $status
