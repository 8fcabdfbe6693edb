#!/usr/bin/env bash
# The project's test command (README): installs what the tests need, starts
# a throwaway PostgreSQL, and runs every test — unit, the store suite on all
# backends, the reference issuer end to end, the real codex CLI, the full
# conformance suite against the built-in issuer and the fault self-test, and the
# third-party OIDC clients (go-oidc + x/oauth2, openid-client from npm).
# Containers: a Docker engine (scripts/docker-engine.sh), the images built
# FROM scratch, conform --docker-image, the store suite on PostgreSQL through
# dockertest, the container tests, and actionlint on ci/github.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }

step "codex CLI (pinned @openai/codex@0.169.0)"
CODEXAUTH_CODEX_BIN=$(scripts/install-codex.sh | tail -n1)
export CODEXAUTH_CODEX_BIN
echo "codex: $CODEXAUTH_CODEX_BIN"

step "openid-client (pinned in clients/openid-client/package-lock.json, npm ci into the cache)"
CODEXAUTH_OPENID_CLIENT_DIR=$(scripts/install-openid-client.sh | tail -n1)
export CODEXAUTH_OPENID_CLIENT_DIR

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

bindir=$(mktemp -d)
CODEXAUTH_DOCKERD_DIR=""
cleanup() { rm -rf "$bindir"; [[ -z $CODEXAUTH_DOCKERD_DIR ]] || scripts/docker-engine.sh stop "$CODEXAUTH_DOCKERD_DIR"; }
trap cleanup EXIT

step "Docker engine (the one that answers, else as root a private dockerd: scripts/docker-engine.sh)"
engine=$(scripts/docker-engine.sh start) || {
  echo "test.sh: the container tests need a Docker engine and none can be had (see above): they are NOT RUN, so the run fails" >&2
  exit 1
}
eval "$engine"
export DOCKER_HOST CODEXAUTH_DOCKERD_DIR

step "images FROM scratch, no registry: codexauth (scripts/image.sh), PostgreSQL (scripts/pg-image.sh)"
scripts/image.sh codexauth:test
scripts/pg-image.sh codexauth-postgres:test
export CODEXAUTH_TEST_IMAGE=codexauth:test

step "actionlint on the users' workflows (ci/github/*.yml)"
actionlint_dir="${CODEXAUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codexauth}/actionlint-v1.7.12"
[[ -x $actionlint_dir/actionlint ]] || GOBIN="$actionlint_dir" go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
"$actionlint_dir/actionlint" -version | head -n1
"$actionlint_dir/actionlint" ci/github/*.yml && echo "actionlint: ci/github/*.yml clean ($(ls ci/github/*.yml | wc -l) workflows)"

step "gofmt, go vet and staticcheck (pinned v0.8.2)"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
[[ -z $unformatted ]] || { echo "test.sh: not gofmt-formatted (run gofmt -w):" >&2; echo "$unformatted" >&2; exit 1; }
echo "gofmt: clean"
go vet ./...
staticcheck_dir="${CODEXAUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codexauth}/staticcheck-v0.8.2"
[[ -x $staticcheck_dir/staticcheck ]] || GOBIN="$staticcheck_dir" go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
"$staticcheck_dir/staticcheck" ./... && echo "staticcheck: clean"

step "import rule: the harness and the specs import nothing of the issuer"
go test -count=1 ./internal/archtest/
harness_deps=$(go list -deps ./harness/... ./specs/... | grep '^github.com/codexauth/codexauth/' | sed 's#github.com/codexauth/codexauth/##' | tr '\n' ' ')
echo "harness + specs depend on: $harness_deps"

go build -o "$bindir/codexauth" ./cmd/codexauth

step "third-party OIDC clients, default settings: go-oidc + x/oauth2 (Go), openid-client (Node)"
if ! go test -count=1 -v ./clients/... >"$bindir/clients.log" 2>&1; then
  cat "$bindir/clients.log"; exit 1
fi
grep -E 'flow: |^(--- |ok )' "$bindir/clients.log" | sed -E 's/^ +[a-z_]+\.go:[0-9]+: /  /'


step "go test: unit, stores (memory, SQLite, PostgreSQL from scripts/pg.sh), issuer, real codex, CLI, hostile issuer"
scripts/pg.sh -- go test -count=1 -timeout 20m -skip '^TestCrashAndFaultSoak$' ./...

step "crash and fault soak, short form (scripts/soak.sh runs it long; docs/soak.md)"
if ! go test -count=1 -run '^TestCrashAndFaultSoak$' -v ./cmd/codexauth >"$bindir/soak.log" 2>&1; then
  cat "$bindir/soak.log"; exit 1
fi
grep -E '^soak |NOT RUN|^--- ' "$bindir/soak.log"

step "fuzz targets, 3 s each (scripts/fuzz.sh runs them 10 minutes each; docs/fuzzing.md)"
scripts/fuzz.sh 3s

step "store suite on PostgreSQL through dockertest (image codexauth-postgres:test)"
if ! env -u CODEXAUTH_TEST_POSTGRES CODEXAUTH_TEST_POSTGRES_IMAGE=codexauth-postgres:test \
     go test -count=1 -v -run Postgres ./issuer/store/... >"$bindir/pg-dockertest.log" 2>&1; then
  cat "$bindir/pg-dockertest.log"; exit 1
fi
grep -E '^(storetest:|--- |ok )' "$bindir/pg-dockertest.log"

step "conformance suite against the image (conform --docker-image codexauth:test)"
"$bindir/codexauth" conform --docker-image codexauth:test --out "$bindir/conformance-docker"

step "conformance suite against the built-in issuer"
start=$(date +%s%N)
"$bindir/codexauth" conform --out "$bindir/conformance"
echo "conformance suite wall time: $(( ($(date +%s%N) - start) / 1000000 )) ms"

step "fault self-test"
# docs/faults.md is regenerated by hand (`codexauth selftest --doc docs/faults.md`): codex's messages carry random kids.
"$bindir/codexauth" selftest --doc "$bindir/faults.md"
