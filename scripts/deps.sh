#!/usr/bin/env bash
# deps.sh — install (only when missing) every Debian package the real-world e2e suite needs.
#
# Usage: scripts/deps.sh            (as root; idempotent; prints one line per package)
#        scripts/deps.sh demo       only what `make demo` uses: nginx-light, binutils (readelf),
#                                   patchelf (pack --self-contained), ca-certificates; the roots'
#                                   busybox, musl and libc6 are unpacked from downloaded .debs
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
#   qemu-user-static binfmt-support  run the arm64 root's own programs on an x86_64 host through
#                    binfmt_misc (issue 14: ldconfig and the run check of a cross-arch install)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # apt_get: waits for a concurrent apt run instead of failing

PKGS=(nginx-light busybox-static musl musl-tools gcc libc6-dev file binutils curl
      munge slurmctld slurmd slurm-client util-linux ca-certificates minisign patchelf docker-registry
      qemu-user-static binfmt-support)

DEMO=0
if [[ ${1:-} == demo ]]; then
  DEMO=1
  PKGS=(nginx-light binutils patchelf ca-certificates)
fi

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

# binfmt_misc: mounted where the kernel allows it, and qemu's interpreters registered (the
# package's postinst does it when binfmt_misc is mounted at install time; without an init system
# it may not have been). A host that refuses the mount runs the cross-arch cases without emulation.
if [[ $DEMO == 0 && $(dpkg --print-architecture) == amd64 ]]; then
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
      echo "deps: binfmt_misc cannot be mounted here; arm64 programs will not run under emulation"
  fi
  if [[ -e /proc/sys/fs/binfmt_misc/register && ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
    [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] && echo "deps: registered qemu-aarch64 in binfmt_misc" ||
      echo "deps: could not register qemu-aarch64 in binfmt_misc" >&2
  fi
fi

# The Debian packages start munge/slurm services where an init system exists; the e2e suite runs
# its own instances (scripts/cluster.sh), so nothing else is needed here.
echo "deps: all ${#PKGS[@]} packages present"
