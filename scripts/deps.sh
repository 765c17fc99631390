#!/usr/bin/env bash
# deps.sh — install (only when missing) every Debian package the real-world e2e suite needs.
#
# Usage: scripts/deps.sh            (as root; idempotent; prints one line per package)
#
# Packages:
#   nginx-light      AppHub mirror (its nginx has autoindex, incl. autoindex_format json)
#   busybox-static   shell + applets for the test roots (scripts/mkroot.sh)
#   musl musl-tools  musl loader for the Alpine-like root; musl-gcc to prove the loader works
#   gcc libc6-dev    needed by musl-gcc
#   file binutils    ELF inspection (readelf/objdump) for build-bundle.sh
#   curl             port probing / fetching
#   munge slurmctld slurmd slurm-client   the live one-node cluster (scripts/cluster.sh)
#   ucf              slurm-client's maintainer scripts need it (pulled in anyway)
#   util-linux       mount/umount for cluster.sh expose
#   patchelf         pack --self-contained (publisher side only)
#   docker-registry  the CNCF distribution server (2.8): registry mirrors, oci:// (issue 17)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # apt_get: waits for a concurrent apt run instead of failing

PKGS=(nginx-light busybox-static musl musl-tools gcc libc6-dev file binutils curl
      munge slurmctld slurmd slurm-client util-linux ca-certificates minisign patchelf docker-registry)

if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: must run as root" >&2
  exit 1
fi

installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

updated=0
apt_update() {
  if [[ $updated -eq 0 ]]; then
    echo "deps: apt-get update"
    apt_get update -qq
    updated=1
  fi
}

# Lists empty => update first.
if ! compgen -G '/var/lib/apt/lists/*Packages*' >/dev/null; then
  apt_update
fi

missing=()
for p in "${PKGS[@]}"; do
  if installed "$p"; then
    echo "deps: $p already installed"
  else
    if ! apt-cache show "$p" >/dev/null 2>&1; then
      apt_update
    fi
    missing+=("$p")
    echo "deps: $p will be installed"
  fi
done

if ((${#missing[@]})); then
  if ! apt_get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/tmp/deps-apt.$$.log 2>&1; then
    # Stale lists (404 on a superseded version) are the usual cause: update once and retry.
    apt_update
    if ! apt_get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/tmp/deps-apt.$$.log 2>&1; then
      cat /tmp/deps-apt.$$.log >&2
      rm -f /tmp/deps-apt.$$.log
      echo "deps: apt-get install failed" >&2
      exit 1
    fi
  fi
  rm -f /tmp/deps-apt.$$.log
  for p in "${missing[@]}"; do
    if installed "$p"; then echo "deps: $p installed"; else echo "deps: $p FAILED to install" >&2; exit 1; fi
  done
fi

# The Debian packages start munge/slurm services where an init system exists; the e2e suite runs
# its own instances (scripts/cluster.sh), so nothing else is needed here.
echo "deps: all ${#PKGS[@]} packages present"
