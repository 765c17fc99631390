#!/usr/bin/env bash
# dockerd.sh — a private Docker daemon for `make e2e-docker` that cannot reach anything.
#
# Usage: scripts/dockerd.sh start STATEDIR    (prints DOCKER_HOST=unix://STATEDIR/docker.sock)
#        scripts/dockerd.sh stop STATEDIR     (idempotent; safe to call from a trap)
#        scripts/dockerd.sh deps              (apt-get install docker.io when dockerd is missing)
#
# start: runs Debian's dockerd (docker.io) with everything under STATEDIR — --data-root data/,
#        --exec-root exec/, --pidfile dockerd.pid, -H unix://STATEDIR/docker.sock, its own
#        daemon.json (no host config is read), log dockerd.log — and no way out:
#        --iptables=false --ip6tables=false --bridge=none (no bridge, no NAT: containers and RUN
#        steps get only `--network none` or `--network host`, i.e. loopback), and HTTP_PROXY /
#        HTTPS_PROXY=http://127.0.0.1:9 (nothing listens there) in the daemon's environment, so
#        a registry pull, should anything attempt one, fails at once and shows in the log.
#        Returns once the API answers (bounded 60 s). The client to use is /usr/bin/docker (the
#        docker.io client, which has BuildKit built in) with DOCKER_HOST and
#        DOCKER_CONFIG=STATEDIR/client (no credential helpers or contexts of the host).
# stop:  TERM to dockerd by its pid (it stops its containers and its containerd), KILL after
#        20 s, then KILL anything still running from STATEDIR (containerd-shim), unmount every
#        mount under STATEDIR (overlay layers, netns, shm), deepest first, and remove STATEDIR.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKERD=/usr/sbin/dockerd
DOCKER=/usr/bin/docker

usage() { echo "usage: $0 start STATEDIR | stop STATEDIR | deps" >&2; exit 2; }
[[ $# -ge 1 ]] || usage

deps() {
  need_root
  if [[ -x $DOCKERD && -x $DOCKER ]] && dpkg-query -W -f='${db:Status-Status}' docker.io 2>/dev/null | grep -qx installed; then
    log "docker.io already installed ($($DOCKERD --version))"
    return 0
  fi
  log "installing docker.io with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d: no init system here, and the packaged daemon must not start anyway.
  local prc=/usr/sbin/policy-rc.d made=0
  if [[ ! -e $prc ]]; then printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod 755 "$prc"; made=1; fi
  local rc=0
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker.io </dev/null >/tmp/dockerd-apt.$$.log 2>&1 || {
    apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker.io </dev/null >/tmp/dockerd-apt.$$.log 2>&1
  } || rc=$?
  ((made)) && rm -f "$prc"
  if ((rc)); then cat /tmp/dockerd-apt.$$.log >&2; rm -f /tmp/dockerd-apt.$$.log; die "apt-get install docker.io failed"; fi
  rm -f /tmp/dockerd-apt.$$.log
  [[ -x $DOCKERD ]] || die "docker.io installed but $DOCKERD is missing"
  log "docker.io installed ($($DOCKERD --version))"
}

start() {
  need_root
  local st=$1
  [[ -x $DOCKERD ]] || die "dockerd not installed (run: $0 deps)"
  mkdir -p "$st"
  st=$(cd "$st" && pwd)
  if [[ -s $st/dockerd.pid ]] && alive "$(cat "$st/dockerd.pid")"; then
    log "stopping the dockerd already running from $st"
    stop "$st"
    mkdir -p "$st"
  fi
  # A unix socket path must fit in sun_path (108 bytes).
  ((${#st} < 90)) || die "state dir path too long for a unix socket: $st"
  mkdir -p "$st/data" "$st/exec" "$st/client"
  # No storage-driver: dockerd picks overlay2 where the file system allows it, else a slower one.
  cat >"$st/daemon.json" <<'EOF'
{
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false,
  "live-restore": false,
  "features": {"buildkit": true},
  "log-level": "debug"
}
EOF
  echo '{}' >"$st/client/config.json"
  # setsid: its own session, so a Ctrl-C meant for the test runner reaches it only through stop.
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 NO_PROXY= no_proxy= \
    HOME="$st" \
    setsid "$DOCKERD" --config-file "$st/daemon.json" --data-root "$st/data" --exec-root "$st/exec" \
      --pidfile "$st/dockerd.pid" -H "unix://$st/docker.sock" --iptables=false --ip6tables=false \
      --bridge=none </dev/null >"$st/dockerd.log" 2>&1 &
  local pid=$! i t0
  t0=$(date +%s%N)
  echo "$pid" >"$st/dockerd.launch.pid"
  for ((i = 0; i < 600; i++)); do
    if ! alive "$pid"; then
      tail -20 "$st/dockerd.log" >&2 || true
      die "dockerd exited during start-up (log: $st/dockerd.log)"
    fi
    if DOCKER_HOST=unix://$st/docker.sock DOCKER_CONFIG=$st/client "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
      local drv
      drv=$(DOCKER_HOST=unix://$st/docker.sock DOCKER_CONFIG=$st/client "$DOCKER" info --format '{{.Driver}}' 2>/dev/null || echo unknown)
      log "private dockerd $pid ready in $((($(date +%s%N) - t0) / 1000000)) ms: unix://$st/docker.sock (storage $drv, no bridge, no iptables, proxy 127.0.0.1:9; log $st/dockerd.log)"
      echo "DOCKER_HOST=unix://$st/docker.sock"
      return 0
    fi
    sleep 0.1
  done
  tail -20 "$st/dockerd.log" >&2 || true
  stop "$st"
  die "dockerd did not answer within 60 s"
}

# mounts_under DIR: mount points at or below DIR, deepest first.
mounts_under() {
  awk -v d="$1" '{ gsub(/\\040/, " ", $5); if ($5 == d || index($5, d "/") == 1) print length($5) " " $5 }' /proc/self/mountinfo |
    sort -rn | cut -d' ' -f2-
}

stop() {
  local st=$1 pid="" i p
  [[ -d $st ]] || { log "no dockerd state in $st (not running)"; return 0; }
  st=$(cd "$st" && pwd)
  [[ -s $st/dockerd.pid ]] && pid=$(cat "$st/dockerd.pid")
  [[ -z $pid && -s $st/dockerd.launch.pid ]] && pid=$(cat "$st/dockerd.launch.pid")
  if [[ -n $pid ]] && alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then log "dockerd $pid still alive after 20 s; sending KILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    log "dockerd $pid stopped"
  fi
  # Whatever it started and left (containerd, shims): processes whose command line names STATEDIR.
  for p in $(grep -lsF -- "$st/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [[ $p == "$$" ]] && continue
    alive "$p" || continue
    log "killing leftover process $p: $(tr '\0' ' ' </proc/"$p"/cmdline | cut -c1-120)"
    kill -KILL "$p" 2>/dev/null || true
  done
  for ((i = 0; i < 5; i++)); do
    local mps; mps=$(mounts_under "$st")
    [[ -z $mps ]] && break
    while IFS= read -r p; do umount "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || true; done <<<"$mps"
  done
  if [[ -n $(mounts_under "$st") ]]; then
    die "still mounted under $st: $(mounts_under "$st" | tr '\n' ' '); not removing it"
  fi
  rm -rf "$st"
  log "removed $st"
}

cmd=$1; shift
case $cmd in
  deps) deps ;;
  start) [[ $# -eq 1 ]] || usage; start "$1" ;;
  stop) [[ $# -eq 1 ]] || usage; stop "$1" ;;
  *) usage ;;
esac
