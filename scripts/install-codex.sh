#!/usr/bin/env bash
# Installs the pinned OpenAI Codex CLI into a cache folder (re-used when present) and
# prints the path of the native binary on the last line of stdout.
#
#   CODEX_VERSION        version to install (default 0.169.0, the version the contract describes)
#   CODEXAUTH_CACHE      cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/codexauth)
set -euo pipefail

version="${CODEX_VERSION:-0.169.0}"
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
