#!/usr/bin/env bash
# The project's test command (README): installs what the tests need, starts
# a throwaway PostgreSQL, and runs every test — unit, the store suite on all
# backends, the reference issuer end to end, and the real codex CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }

step "codex CLI (pinned @openai/codex@0.169.0)"
CODEXAUTH_CODEX_BIN=$(scripts/install-codex.sh | tail -n1)
export CODEXAUTH_CODEX_BIN
echo "codex: $CODEXAUTH_CODEX_BIN"

step "go vet"
go vet ./...

step "tests (PostgreSQL from scripts/pg.sh)"
scripts/pg.sh -- go test -count=1 -timeout 20m ./...
