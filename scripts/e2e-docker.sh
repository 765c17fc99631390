#!/usr/bin/env bash
# e2e-docker.sh — `make e2e-docker`: RUN slurm-installer in a real Docker engine (issue 16).
#
# Usage: [E2E_BUILD=DIR] [SLURM_INSTALLER=BIN] scripts/e2e-docker.sh [go test flags, e.g. -test.run ...]
#        (scripts/bench-docker.sh runs TestDockerBench through it: -test.run given here wins)
#
# Installs docker.io when missing (scripts/dockerd.sh deps), builds the e2e test binary with the
# `e2e docker` tags and runs TestDocker (e2e/docker_test.go), which starts a private dockerd that
# cannot reach anything (scripts/dockerd.sh start) and registers its teardown. This script's EXIT
# trap is the safety net: it stops the daemon the tests named in $E2E_BUILD/e2e-run/dockerd.dir if
# it is still there, then checks that nothing is left: no process running from the daemon's temp
# dir, nothing mounted under it, the dir gone.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

BUILD=${E2E_BUILD:-$E2E_BUILD_DEFAULT}
mkdir -p "$BUILD/e2e-run"
BUILD=$(cd "$BUILD" && pwd)
BIN=${SLURM_INSTALLER:-$E2E_TOP/bin/slurm-installer}
NAMEFILE=$BUILD/e2e-run/dockerd.dir
TESTBIN=$BUILD/e2e-run/e2e-docker.test
pid=""

cleanup() {
  local rc=$? d i left=""
  trap - EXIT INT TERM HUP
  if [[ -n $pid ]] && alive "$pid"; then
    log "stopping the test binary $pid (it tears down what it started)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  if [[ -s $NAMEFILE ]]; then
    d=$(cat "$NAMEFILE")
    if [[ -e $d ]]; then
      log "dockerd state $d is still there: stopping it"
      bash "$E2E_SCRIPTS/dockerd.sh" stop "$d" || rc=1
    fi
    grep -lsF -- "$d/" /proc/[0-9]*/cmdline >/dev/null 2>&1 && left+=" processes:$(grep -lsF -- "$d/" /proc/[0-9]*/cmdline | cut -d/ -f3 | tr '\n' ' ')"
    awk -v d="$d" '$5 == d || index($5, d "/") == 1 {found=1} END {exit !found}' /proc/self/mountinfo && left+=" mounts"
    [[ -e $d ]] && left+=" dir"
    if [[ -n $left ]]; then
      echo "[e2e-docker.sh] ERROR: teardown left$left under $d" >&2
      rc=1
    else
      log "teardown complete: no dockerd, no containerd, no mounts, $d removed"
    fi
    rm -f "$NAMEFILE"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

SECONDS=0
bash "$E2E_SCRIPTS/dockerd.sh" deps
rm -f "$NAMEFILE"
(cd "$E2E_TOP" && go test -c -tags 'e2e docker' -o "$TESTBIN" ./e2e/)
# The test binary runs in e2e/ (it finds the repository from there), in the background so
# that a signal reaches the traps at once.
(cd "$E2E_TOP/e2e" && E2E_BUILD=$BUILD SLURM_INSTALLER=$BIN exec "$TESTBIN" -test.v -test.count=1 \
  -test.timeout 20m -test.run '^TestDocker$' "$@") &
pid=$!
wait "$pid"
pid=""
log "e2e-docker passed in ${SECONDS} s"
