#!/usr/bin/env bash
# Installs a published OpenAI Codex CLI (@openai/codex) into a cache folder (re-used when
# present) and prints the path of the native binary on the last line of stdout.
#
#   scripts/install-codex.sh [VERSION]
#
#   VERSION              an exact published version such as 0.171.0 (default: $CODEX_VERSION, else
#                        0.169.0, the pinned version the contract describes)
#   CODEXAUTH_CACHE      cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/codexauth); each version
#                        lives in its own folder, codex-VERSION
set -euo pipefail

pinned=0.169.0
version="${1:-${CODEX_VERSION:-$pinned}}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || {
  echo "install-codex: '$version' is not a version (want e.g. 0.171.0)" >&2
  exit 2
}
cache="${CODEXAUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codexauth}"
dir="$cache/codex-$version"

find_bin() {
  local native
  native=$(find "$dir/node_modules/@openai" -path '*/vendor/*/bin/codex' -type f 2>/dev/null | head -n1 || true)
  if [[ -n "$native" && -x "$native" ]]; then
    printf '%s\n' "$native"
  elif [[ -x "$dir/node_modules/.bin/codex" ]]; then
    printf '%s\n' "$dir/node_modules/.bin/codex"
  fi
}

mkdir -p "$cache"
# One install per version at a time (a matrix may ask for the same version twice at once).
if command -v flock >/dev/null; then
  exec 9>"$cache/.install-codex-$version.lock"
  flock 9
fi
bin=$(find_bin)
if [[ -z "$bin" ]]; then
  command -v npm >/dev/null || { echo "install-codex: npm is required (install Node.js 20+)" >&2; exit 1; }
  mkdir -p "$dir"
  tmp=$(mktemp -d "$cache/install-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "install-codex: installing @openai/codex@$version into $dir (about 300 MB, once)" >&2
  (cd "$tmp" && printf '{"name":"codex-cache","private":true}\n' > package.json && npm install --no-audit --no-fund --loglevel=error "@openai/codex@$version" >&2)
  rm -rf "$dir" && mv "$tmp" "$dir"
  trap - EXIT
  bin=$(find_bin)
  [[ -n "$bin" ]] || { echo "install-codex: installed, but no codex binary found under $dir" >&2; exit 1; }
fi
got=$("$bin" --version 2>/dev/null || true)
case "$got" in
  *"$version"*) ;;
  *) echo "install-codex: $bin reports '$got', expected $version" >&2; exit 1 ;;
esac
printf '%s\n' "$bin"
