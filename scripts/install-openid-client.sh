#!/usr/bin/env bash
# Installs the pinned openid-client (clients/openid-client/package-lock.json) into a
# cache folder (re-used while the lock file is unchanged) and prints the folder that
# holds its node_modules on the last line of stdout.
#
#   CODEXAUTH_CACHE      cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/codexauth)
set -euo pipefail
cd "$(dirname "$0")/.."

src=clients/openid-client
cache="${CODEXAUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codexauth}"
lock_hash=$(sha256sum "$src/package-lock.json" | cut -c1-16)
dir="$cache/openid-client-$lock_hash"

if [[ ! -f "$dir/node_modules/openid-client/package.json" ]]; then
  command -v npm >/dev/null || { echo "install-openid-client: npm is required (install Node.js 20+)" >&2; exit 1; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/install-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cp "$src/package.json" "$src/package-lock.json" "$tmp/"
  echo "install-openid-client: npm ci in $dir (locked versions)" >&2
  (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$dir" && mv "$tmp" "$dir"
  trap - EXIT
fi
version=$(node -p "require('$dir/node_modules/openid-client/package.json').version")
want=$(node -p "require('./$src/package.json').dependencies['openid-client']")
[[ "$version" == "$want" ]] || { echo "install-openid-client: installed openid-client $version, package.json pins $want" >&2; exit 1; }
echo "install-openid-client: openid-client $version" >&2
printf '%s\n' "$dir"
