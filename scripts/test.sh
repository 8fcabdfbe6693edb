#!/usr/bin/env bash
# The project's test command (README): installs what the tests need, starts
# a throwaway PostgreSQL, and runs every test — unit, the store suite on all
# backends, the reference issuer end to end, the real codex CLI, the full
# conformance suite against the built-in issuer and the fault self-test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }

step "codex CLI (pinned @openai/codex@0.169.0)"
CODEXAUTH_CODEX_BIN=$(scripts/install-codex.sh | tail -n1)
export CODEXAUTH_CODEX_BIN
echo "codex: $CODEXAUTH_CODEX_BIN"

step "Chromium for the page tests (Debian package)"
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [[ $(id -u) == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || {
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  fi
fi
command -v chromium || command -v chromium-browser

step "go vet"
go vet ./...

step "import rule: the harness and the specs import nothing of the issuer"
go test -count=1 ./internal/archtest/
harness_deps=$(go list -deps ./harness/... ./specs/... | grep '^github.com/codexauth/codexauth/' | sed 's#github.com/codexauth/codexauth/##' | tr '\n' ' ')
echo "harness + specs depend on: $harness_deps"

bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
go build -o "$bindir/codexauth" ./cmd/codexauth

step "go test: unit, stores (memory, SQLite, PostgreSQL from scripts/pg.sh), issuer, real codex, CLI"
scripts/pg.sh -- go test -count=1 -timeout 20m ./...

step "conformance suite against the built-in issuer"
start=$(date +%s%N)
"$bindir/codexauth" conform --out "$bindir/conformance"
echo "conformance suite wall time: $(( ($(date +%s%N) - start) / 1000000 )) ms"

step "fault self-test"
"$bindir/codexauth" selftest --doc docs/faults.md
