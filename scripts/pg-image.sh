#!/usr/bin/env bash
# Builds a PostgreSQL image without an image registry, from this machine's PostgreSQL server
# binaries (Debian: apt-get install postgresql) and their shared libraries: a rootfs tarball
# imported with `docker import`. The cluster is initialised here, at build time (initdb as a
# non-root user; trust authentication, C locale, UTF8, superuser "postgres"), so the image needs
# no shell. It runs as the non-root user postgres (uid 999) and speaks like the official
# postgres image for what the tests use: `postgres -p PORT -c listen_addresses=…` with PGDATA set.
#
#   scripts/pg-image.sh [TAG]     default codexauth-postgres:15 (the tag names the major version found)
#
# The store suite runs against it through dockertest (issuer/store/storetest, with
# CODEXAUTH_TEST_POSTGRES_IMAGE=TAG). A throwaway test image: trust authentication, fsync off.
set -euo pipefail

bindir=""
for d in /usr/lib/postgresql/*/bin; do [[ -x $d/postgres && -x $d/initdb ]] && bindir=$d; done
[[ -n $bindir ]] || { echo "pg-image.sh: no PostgreSQL server binaries under /usr/lib/postgresql (Debian: apt-get install postgresql)" >&2; exit 1; }
major=$(basename "$(dirname "$bindir")")
tag=${1:-codexauth-postgres:$major}
command -v docker >/dev/null || { echo "pg-image.sh: the docker CLI is required (scripts/docker-engine.sh start provides one)" >&2; exit 1; }
pkglib=/usr/lib/postgresql/$major/lib
share=/usr/share/postgresql/$major

tmp=$(mktemp -d "${TMPDIR:-/tmp}/codexauth-pg-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/rootfs
mkdir -p "$root"/{etc,tmp,lib64,var/lib/postgresql,var/run/postgresql,usr/share}
chmod 1777 "$root/tmp"

# The server, the modules it may load (not the LLVM JIT: PostgreSQL runs without it) and every
# shared library they need, at the paths the dynamic loader looks in.
mkdir -p "$root$bindir" "$root$pkglib"
cp "$bindir/postgres" "$root$bindir/"
find "$pkglib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' -exec cp {} "$root$pkglib/" \;
{ ldd "$bindir/postgres"; for so in "$root$pkglib"/*.so; do ldd "$so"; done; } 2>/dev/null |
  awk '/=> \//{ print $3 } $1 ~ /^\// { print $1 }' | sort -u | while read -r lib; do
    cp --parents -L "$lib" "$root/"
  done
mkdir -p "$root/usr/share/postgresql" && cp -r "$share" "$root$share" && rm -rf "$root$share/man"
cp -r /usr/share/zoneinfo "$root/usr/share/zoneinfo"
printf 'root:x:0:0:root:/root:/sbin/nologin\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:999:\n' >"$root/etc/group"

# initdb refuses root: run it as the machine's postgres account (else nobody).
as=()
if [[ $(id -u) == 0 ]]; then
  user=postgres; id "$user" >/dev/null 2>&1 || user=nobody
  mkdir -p "$tmp/init" && chown "$user" "$tmp/init" && chmod 755 "$tmp"
  as=(runuser -u "$user" --)
else
  mkdir -p "$tmp/init"
fi
TZ=UTC "${as[@]}" "$bindir/initdb" -D "$tmp/init/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; exit 1; }
# Connections published through a bridge come from its gateway, not loopback.
echo "host all all all trust" >>"$tmp/init/data/pg_hba.conf"
printf "fsync = off\nmax_connections = 200\nlisten_addresses = '127.0.0.1'\n" >>"$tmp/init/data/postgresql.conf"
mv "$tmp/init/data" "$root/var/lib/postgresql/data"
chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
chmod 700 "$root/var/lib/postgresql/data"

tar --numeric-owner -C "$root" -cf "$tmp/rootfs.tar" .
docker import \
  --change 'USER 999:999' \
  --change "ENV PATH=$bindir PGDATA=/var/lib/postgresql/data TZ=UTC" \
  --change 'EXPOSE 5432' \
  --change 'CMD ["postgres"]' \
  "$tmp/rootfs.tar" "$tag" >/dev/null
size=$(docker image inspect --format '{{.Size}}' "$tag")
echo "pg-image.sh: built $tag from $bindir/postgres ($("$bindir/postgres" --version), $((size / 1024 / 1024)) MB, docker import)"
