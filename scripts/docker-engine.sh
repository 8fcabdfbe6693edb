#!/usr/bin/env bash
# A Docker engine for the tests: the one that answers, else (as root) a private dockerd
# started from Debian's docker.io package that leaves the machine as it found it.
#
#   eval "$(scripts/docker-engine.sh start)"   prints DOCKER_HOST=… and CODEXAUTH_DOCKERD_DIR=…
#                                              (empty when an engine already answered: not ours to stop);
#                                              exits 1, saying why, when no engine can be had
#   scripts/docker-engine.sh stop [DIR]        stops the private engine (DIR or $CODEXAUTH_DOCKERD_DIR)
#                                              and deletes its folder; no-op for an engine it did not start
#   scripts/docker-engine.sh env               prints DOCKER_HOST=… of an engine that answers, else exits 1
#
# The private engine: its own data root, exec root, pid file, key file and socket in one temp folder;
# --bridge=none --iptables=false --ip6tables=false, so it creates no network interface and no firewall
# rule: containers use the host network (reachable on loopback only when they listen there).
set -euo pipefail

answering_host() {
  command -v docker >/dev/null || return 1
  local host=${DOCKER_HOST:-}
  if [[ -z $host ]]; then
    # A CLI context (rootless, Desktop) that the Go client would not find by itself.
    host=$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || true)
    host=${host:-unix:///var/run/docker.sock}
  fi
  DOCKER_HOST=$host timeout 20 docker info >/dev/null 2>&1 || return 1
  echo "$host"
}

install_docker() {
  command -v dockerd >/dev/null && command -v docker >/dev/null && return 0
  echo "docker-engine: installing Debian's docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q docker.io >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q docker.io >/dev/null; }
  command -v dockerd >/dev/null && command -v docker >/dev/null
}

start() {
  local host
  if host=$(answering_host); then
    echo "docker-engine: using the engine at $host" >&2
    printf 'DOCKER_HOST=%q\nCODEXAUTH_DOCKERD_DIR=\n' "$host"
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then
    echo "docker-engine: no Docker engine answers${DOCKER_HOST:+ at $DOCKER_HOST} and this is not root, so none can be started: start one (or run as root) for the container tests" >&2
    return 1
  fi
  install_docker || { echo "docker-engine: could not install docker.io (apt-get)" >&2; return 1; }
  local dir
  dir=$(mktemp -d /tmp/codexauth-dockerd.XXXXXX) # short: containerd's socket path must fit 108 bytes
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$dir" >"$dir/daemon.json"
  dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" -H "unix://$dir/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=false --shutdown-timeout 5 --log-level warn </dev/null >"$dir/dockerd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do
    if DOCKER_HOST="unix://$dir/docker.sock" docker info >/dev/null 2>&1; then
      echo "docker-engine: started dockerd $(dockerd --version | sed 's/^Docker version //') (pid $pid, data $dir, no bridge, no iptables)" >&2
      printf 'DOCKER_HOST=%q\nCODEXAUTH_DOCKERD_DIR=%q\n' "unix://$dir/docker.sock" "$dir"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "docker-engine: dockerd did not come up; its log:" >&2
  cat "$dir/dockerd.log" >&2
  stop "$dir"
  return 1
}

stop() {
  local dir=${1:-${CODEXAUTH_DOCKERD_DIR:-}}
  [[ -n $dir && -d $dir ]] || return 0
  [[ $dir == /tmp/codexauth-dockerd.* ]] || { echo "docker-engine: $dir is not an engine folder of this script" >&2; return 1; }
  local pid=""
  [[ -s $dir/dockerd.pid ]] && pid=$(cat "$dir/dockerd.pid")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    # Remove the containers first: dockerd then shuts down at once.
    DOCKER_HOST="unix://$dir/docker.sock" docker ps -aq 2>/dev/null | xargs -r env DOCKER_HOST="unix://$dir/docker.sock" docker rm -f >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Whatever dockerd left mounted under its folder (after a crash), innermost first.
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$dir"
  echo "docker-engine: stopped the private dockerd and deleted $dir" >&2
}

case ${1:-} in
  start) start ;;
  stop) stop "${2:-}" ;;
  env)
    host=$(answering_host) || { echo "docker-engine: no Docker engine answers" >&2; exit 1; }
    printf 'DOCKER_HOST=%q\n' "$host" ;;
  *) echo "usage: scripts/docker-engine.sh start|stop [DIR]|env" >&2; exit 2 ;;
esac
