#!/usr/bin/env bash
# Builds the codexauth container image without an image registry: a static binary
# (CGO_ENABLED=0, version stamped) in an image FROM scratch with the CA bundle, a non-root
# user (ci/rootfs/etc/passwd), a writable /data for the default SQLite store, EXPOSE 8765 and a
# HEALTHCHECK through `codexauth health`. ci/Dockerfile is the same layout as a multi-stage
# recipe for users; cmd/codexauth/dockerfile_test.go keeps the two in step.
#
#   scripts/image.sh [TAG]                  build TAG (default codexauth:test) with the docker CLI
#   scripts/image.sh --context-only DIR     only write the build context (Dockerfile + rootfs/) into DIR
#
#   VERSION   version to stamp (default: git describe --tags --always --dirty)
set -euo pipefail
cd "$(dirname "$0")/.."

context_only=""
if [[ ${1:-} == "--context-only" ]]; then
  context_only=${2:?"usage: scripts/image.sh --context-only DIR"}
  tag=""
else
  tag=${1:-codexauth:test}
fi
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ca=/etc/ssl/certs/ca-certificates.crt
[[ -r $ca ]] || { echo "image.sh: no CA bundle at $ca (Debian: apt-get install ca-certificates)" >&2; exit 1; }

if [[ -n $context_only ]]; then
  ctx=$context_only
  mkdir -p "$ctx"
else
  command -v docker >/dev/null || { echo "image.sh: the docker CLI is required (scripts/docker-engine.sh start provides one)" >&2; exit 1; }
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/codexauth-image.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  ctx=$tmp/context
fi

mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/data"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/rootfs/usr/local/bin/codexauth" ./cmd/codexauth
cp "$ca" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
cp ci/rootfs/etc/passwd ci/rootfs/etc/group "$ctx/rootfs/etc/"

# The final stage of ci/Dockerfile, with the files taken from rootfs/ instead of a build stage.
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY rootfs/etc/passwd rootfs/etc/group /etc/
COPY --chown=65532:65532 rootfs/data /data
COPY rootfs/usr/local/bin/codexauth /usr/local/bin/codexauth
USER 65532:65532
WORKDIR /data
ENV CODEXAUTH_ADDR=0.0.0.0:8765 CODEXAUTH_STORE=sqlite:/data/codexauth.db
VOLUME /data
EXPOSE 8765
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["/usr/local/bin/codexauth", "health"]
ENTRYPOINT ["/usr/local/bin/codexauth"]
CMD ["serve"]
DOCKERFILE

if [[ -n $context_only ]]; then
  echo "image.sh: build context for codexauth $version in $ctx"
  exit 0
fi

# The classic builder needs no BuildKit and no registry for FROM scratch.
DOCKER_BUILDKIT=0 docker build --label "org.opencontainers.image.version=$version" -t "$tag" "$ctx" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; echo "image.sh: docker build failed" >&2; exit 1; }
size=$(docker image inspect --format '{{.Size}}' "$tag")
echo "image.sh: built $tag ($(docker run --rm --network none "$tag" version), $((size / 1024 / 1024)) MB, FROM scratch)"
