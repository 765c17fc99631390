#!/usr/bin/env bash
# dpkg-root.sh — install Debian packages into a root the way dpkg records them, without running
# anything in it: each .deb is unpacked (dpkg-deb -x) and merged into the root's usr-merged layout
# (/bin, /lib... land in /usr/...), its control fields go to /var/lib/dpkg/status with
# "Status: install ok installed", and its file list to /var/lib/dpkg/info/<pkg>[:<arch>].list.
# Maintainer scripts are not run. For tests of `pack --from-root` (issue 27).
#
# Usage: scripts/dpkg-root.sh ROOT DEB...
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=${1:?usage: dpkg-root.sh ROOT DEB...}
shift
[[ -d $ROOT ]] || die "$ROOT is not a directory"
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates"
touch "$ROOT/var/lib/dpkg/status"
for deb in "$@"; do
  pkg=$(dpkg-deb -f "$deb" Package)
  arch=$(dpkg-deb -f "$deb" Architecture)
  multi=$(dpkg-deb -f "$deb" Multi-Arch || true)
  x=$(mktemp -d)
  dpkg-deb -x "$deb" "$x"
  for d in "$x"/*; do
    [[ -e $d || -L $d ]] || continue
    case $(basename "$d") in
      bin|sbin|lib|lib64|lib32|libx32)
        if [[ -L $ROOT/$(basename "$d") ]]; then
          mkdir -p "$ROOT/usr/$(basename "$d")"; cp -a "$d"/. "$ROOT/usr/$(basename "$d")/"
        else
          mkdir -p "$ROOT/$(basename "$d")"; cp -a "$d"/. "$ROOT/$(basename "$d")/"
        fi ;;
      *) mkdir -p "$ROOT/$(basename "$d")"; cp -a "$d"/. "$ROOT/$(basename "$d")/" ;;
    esac
  done
  rm -rf "$x"
  list=$pkg
  [[ $multi == same ]] && list=$pkg:$arch
  # dpkg's .list: every path the package ships, "/." for the root, no trailing slashes
  dpkg-deb -c "$deb" | awk '{ p=$6; sub(/^\.\/?/, "/", p); sub(/\/$/, "", p); if (p == "") p="/."; print p }' \
    >"$ROOT/var/lib/dpkg/info/$list.list"
  { dpkg-deb -f "$deb" | awk -v st="Status: install ok installed" 'NR==1 {print; print st; next} {print}'; echo; } \
    >>"$ROOT/var/lib/dpkg/status"
  log "installed $pkg $(dpkg-deb -f "$deb" Version) ($arch) into $ROOT"
done
