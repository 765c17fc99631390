#!/usr/bin/env bash
# mkroot.sh — build real target root filesystems from Debian packages (never installed on the host).
#
# Usage: scripts/mkroot.sh glibc|musl|distroless DEST [BUILDDIR]
#        scripts/mkroot.sh gcompat DEST [BUILDDIR]     (adds glibc to an existing musl root)
#        scripts/mkroot.sh glibc-arm64 DEST [BUILDDIR] (or ARCH=arm64 ... glibc: an aarch64 root)
#        scripts/mkroot.sh glibc-trixie DEST [BUILDDIR] (or SUITE=trixie ... glibc: a Debian 13 root)
#   BUILDDIR defaults to <repo>/build/e2e; templates are cached in BUILDDIR/roots/<kind>-<arch>,
#   .debs in BUILDDIR/debs. DEST must not exist or be empty (except for gcompat); each call gives a
#   fresh copy (cp -a) of the cached template, so it is fast.
#
# glibc      Debian 12 laid out like a real image: /bin /sbin /lib /lib64 -> usr/... (relative),
#            /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 (ABSOLUTE),
#            libc6 + libc-bin (/sbin/ldconfig, /etc/ld.so.conf including ld.so.conf.d/*.conf,
#            ld.so.cache built), busybox-static as /bin/busybox with applet links (/bin/sh ...),
#            /etc/{profile (sources /etc/profile.d/*.sh),passwd,group,nsswitch.conf,hosts,os-release},
#            /tmp /var /run /dev/{null,zero,random,urandom,tty}. No other libraries.
# musl       Alpine 3.20-like: /bin/busybox + ABSOLUTE applet links at busybox's paths (/bin/sh,
#            /usr/bin/env -> /bin/busybox, like Alpine), /lib/ld-musl-x86_64.so.1 (musl's libc.so, a real file),
#            /lib/libc.musl-x86_64.so.1 -> ld-musl-x86_64.so.1, /etc/alpine-release, Alpine
#            os-release, /etc/profile sourcing /etc/profile.d/*.sh. No glibc, no /lib64.
# distroless glibc loader and libs only (libc6 as distroless/base has it: usr-merge links, absolute
#            /lib64 loader link, /etc/ld.so.conf.d/x86_64-linux-gnu.conf but no /etc/ld.so.conf and
#            no ldconfig), /etc/{passwd,group,nsswitch.conf,hosts,os-release}, /tmp. No shell.
# gcompat    into an existing musl root: glibc's libs in /usr/lib/x86_64-linux-gnu (libc6),
#            /lib64/ld-linux-x86-64.so.2 -> /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 (absolute),
#            /sbin/ldconfig (static, from libc-bin), /etc/ld.so.conf (include ld.so.conf.d/*.conf),
#            /etc/ld.so.conf.d/x86_64-linux-gnu.conf and an ld.so.cache. A glibc program runs once
#            its own library dirs are in /etc/ld.so.conf.d/*.conf and ldconfig has run (the glibc
#            loader never reads /etc/ld-musl-*.path).
# glibc-arm64 the glibc root for aarch64, from arm64 libc6, libc-bin and busybox-static: same layout
#            but the loader is /lib/ld-linux-aarch64.so.1 -> aarch64-linux-gnu/ld-linux-aarch64.so.1
#            (relative, as Debian's arm64 libc6 ships it). On a host that cannot run aarch64 code
#            nothing is run in it: no ld.so.cache (the host's ldconfig skips aarch64 libraries), and
#            the checks read ELF headers instead (/bin/sh and the loader are aarch64).
#            Where binfmt_misc runs aarch64 code (qemu-user-static), nothing changes: the template
#            is the same on every host, so a test of "ldconfig under emulation" starts without a cache.
# glibc-trixie the glibc root of another Debian release (SUITE, default trixie: glibc 2.41), from
#            that release's libc6, libc-bin and busybox-static through a private apt (lib.sh
#            apt_suite, state in BUILDDIR/apt-SUITE, .debs in BUILDDIR/debs-SUITE): the same
#            layout as glibc plus libgcc-s1 (as Debian 13 images have it), os-release of Debian 13.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

usage() { echo "usage: $0 glibc|musl|distroless|gcompat|glibc-arm64|glibc-trixie DEST [BUILDDIR]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
KIND=$1 DEST=$2 BUILD=${3:-$E2E_BUILD_DEFAULT}
case $KIND in glibc|musl|distroless|gcompat) ;; glibc-arm64) KIND=glibc ARCH=arm64 ;; glibc-trixie) KIND=glibc SUITE=${SUITE:-trixie} ;; *) usage ;; esac
SUITE=${SUITE:-}
[[ -z $SUITE || $KIND == glibc ]] || die "SUITE=$SUITE: only glibc roots are made from another release"
DA=$(debarch "${ARCH:-amd64}")
[[ $DA == amd64 || $KIND == glibc ]] || die "only glibc roots are made for $DA (ARCH=${ARCH:-})"
UA=$(unamearch "$DA") TRIP=$(triplet "$DA")
HOSTDA=$(dpkg --print-architecture)
# CANRUN: this host runs the root's programs (no binfmt emulation is assumed)
CANRUN=false; [[ $DA == "$HOSTDA" ]] && CANRUN=true
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)   # deb_fetch cds; a relative BUILDDIR would break it
DEBS=$BUILD/debs
SFX=""
if [[ -n $SUITE ]]; then
  apt_suite "$SUITE" "$BUILD/apt-$SUITE" "$DA"
  apt_lists_ready "$DA"
  DEBS=$BUILD/debs-$SUITE SFX=-$SUITE
fi
mkdir -p "$BUILD/roots"
KEY=$(cat "$E2E_SCRIPTS/mkroot.sh" "$E2E_SCRIPTS/lib.sh" | sha256sum | cut -c1-16)

BUSYBOX_APPLETS="sh ash ls cat env echo test [ grep egrep mkdir rmdir rm cp mv ln chmod chown readlink
 realpath sed awk head tail wc id uname find sleep true false printf dirname basename which stat touch
 tr cut sort uniq xargs ps kill mount umount df du date hostname pwd vi less more gzip gunzip tar
 wget install mktemp sync whoami tee diff expr seq od hexdump md5sum sha256sum"

# merge_usr SRC ROOT: copy an unpacked package into a usr-merged root.
merge_usr() {
  local src=$1 root=$2 d
  for d in "$src"/*; do
    [[ -e $d || -L $d ]] || continue
    case $(basename "$d") in
      bin|sbin|lib|lib64|lib32|libx32) mkdir -p "$root/usr/$(basename "$d")"; cp -a "$d"/. "$root/usr/$(basename "$d")/" ;;
      .done) ;;
      *) cp -a "$d" "$root/" 2>/dev/null || cp -a "$d"/. "$root/$(basename "$d")/" ;;
    esac
  done
}

mkdevs() {
  local root=$1
  mkdir -p "$root/dev"
  mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || log "warning: mknod failed; no /dev/null in $root"
  mknod -m 666 "$root/dev/zero" c 1 5 2>/dev/null || true
  mknod -m 666 "$root/dev/random" c 1 8 2>/dev/null || true
  mknod -m 666 "$root/dev/urandom" c 1 9 2>/dev/null || true
  mknod -m 666 "$root/dev/tty" c 5 0 2>/dev/null || true
}

common_etc() {
  local root=$1
  mkdir -p "$root/etc/profile.d" "$root/tmp" "$root/var/tmp" "$root/var/lib" "$root/var/log" "$root/run" \
    "$root/root" "$root/home" "$root/proc" "$root/sys" "$root/usr/local/bin" "$root/usr/local/lib"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 700 "$root/root"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nogroup:x:65534:
EOF
  cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
EOF
  echo e2e-root >"$root/etc/hostname"
}

# busybox_into ROOT BINDIR rel|alpine
#   rel:    every applet as BINDIR/<applet> -> busybox (relative; Debian-like, BINDIR=/usr/bin)
#   alpine: each applet at busybox's own install path (bin/sh, usr/bin/env, ...) as an ABSOLUTE
#           link to /bin/busybox, the way Alpine's busybox package installs them.
busybox_into() {
  local root=$1 bindir=$2 mode=$3 bb a path
  bb=$(deb_unpacked "$DEBS" "busybox-static:$DA")
  mkdir -p "$root$bindir"
  local bbin=$bb/bin/busybox
  [[ -f $bbin ]] || bbin=$bb/usr/bin/busybox   # trixie's package is usr-merged
  cp "$bbin" "$root$bindir/busybox"
  # the applet list comes from the host's busybox of the same package when the root's cannot run
  local lister=$bbin
  $CANRUN || lister=$(deb_unpacked "$DEBS" "busybox-static:$HOSTDA")/bin/busybox
  declare -A where=()
  while IFS= read -r path; do where[$(basename "$path")]=$path; done < <("$lister" --list-full)
  for a in $BUSYBOX_APPLETS; do
    if [[ $mode == alpine ]]; then
      path=/${where[$a]:-bin/$a}
      mkdir -p "$root$(dirname "$path")"
      [[ -e $root$path || -L $root$path ]] || ln -s "$bindir/busybox" "$root$path"
    else
      [[ -e $root$bindir/$a || -L $root$bindir/$a ]] || ln -s busybox "$root$bindir/$a"
    fi
  done
}

usrmerge_skeleton() {
  local root=$1
  mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
}

debian_os_release() {
  local id=12 code=bookworm dv=12.8
  if [[ $SUITE == trixie ]]; then id=13 code=trixie dv=13.1; fi
  cat >"$1/etc/os-release" <<EOF
PRETTY_NAME="Debian GNU/Linux $id ($code)"
NAME="Debian GNU/Linux"
VERSION_ID="$id"
VERSION="$id ($code)"
VERSION_CODENAME=$code
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
EOF
  echo "$dv" >"$1/etc/debian_version"
  cat >"$1/etc/nsswitch.conf" <<'EOF'
passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
EOF
}

build_glibc() {
  local r=$1
  usrmerge_skeleton "$r"
  merge_usr "$(deb_unpacked "$DEBS" "libc6:$DA")" "$r"
  merge_usr "$(deb_unpacked "$DEBS" "libc-bin:$DA")" "$r"
  # Debian 13 images carry libgcc-s1 (glibc dlopens libgcc_s.so.1 for pthread_cancel); a
  # self-contained pack takes it from this root as --sysroot
  [[ -z $SUITE ]] || merge_usr "$(deb_unpacked "$DEBS" "libgcc-s1:$DA")" "$r"
  rm -rf "$r/usr/share/doc" "$r/usr/share/lintian" "$r/usr/share/man" "$r/usr/share/locale" "$r/usr/share/i18n"
  busybox_into "$r" /usr/bin rel
  common_etc "$r"
  debian_os_release "$r"
  mkdevs "$r"
  cat >"$r/etc/profile" <<'EOF'
# /etc/profile: system-wide .profile file for the Bourne shell (sh(1))
if [ "$(id -u)" -eq 0 ]; then
  PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
else
  PATH="/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
fi
export PATH

if [ -d /etc/profile.d ]; then
  for i in /etc/profile.d/*.sh; do
    if [ -r $i ]; then
      . $i
    fi
  done
  unset i
fi
EOF
  [[ -f $r/etc/ld.so.conf ]] || die "libc-bin did not provide /etc/ld.so.conf"
  if [[ $DA == arm64 ]]; then
    [[ -L $r/usr/lib/ld-linux-aarch64.so.1 ]] || die "libc6 did not provide /lib/ld-linux-aarch64.so.1"
    [[ -f $r/usr/lib/$TRIP/ld-linux-aarch64.so.1 ]] || die "libc6 did not provide /lib/$TRIP/ld-linux-aarch64.so.1"
  else
    [[ -L $r/usr/lib64/ld-linux-x86-64.so.2 ]] || die "libc6 did not provide /lib64/ld-linux-x86-64.so.2"
    # Debian 12's libc6 links it absolutely; Debian 13's (usr-merged) relatively
    [[ -n $SUITE || $(readlink "$r/usr/lib64/ld-linux-x86-64.so.2") == /* ]] || die "/lib64/ld-linux-x86-64.so.2 is not absolute"
  fi
  if ! $CANRUN; then
    # nothing of an aarch64 root runs here: check the ELF headers instead
    local f
    for f in usr/bin/busybox "usr/lib/$TRIP/ld-linux-aarch64.so.1" "usr/lib/$TRIP/libc.so.6"; do
      LC_ALL=C readelf -h "$r/$f" | grep -q 'Machine:.*AArch64' || die "$UA root: $f is not an AArch64 ELF file"
    done
    [[ $(readlink "$r/usr/bin/sh") == busybox ]] || die "$UA root: /bin/sh is not busybox"
    log "$UA root: this $(unamearch "$HOSTDA") host cannot run it; checked ELF headers only, no ld.so.cache"
    return 0
  fi
  chroot "$r" /sbin/ldconfig
  [[ "$(chroot "$r" /bin/sh -c 'echo ok')" == ok ]] || die "glibc root: /bin/sh does not run"
  # a dynamically linked glibc program must run (getent from libc-bin)
  chroot "$r" /usr/bin/getent passwd root >/dev/null || die "glibc root: dynamic glibc program (getent) does not run"
}

build_distroless() {
  local r=$1
  usrmerge_skeleton "$r"
  merge_usr "$(deb_unpacked "$DEBS" "libc6:$DA")" "$r"
  rm -rf "$r/usr/share/doc" "$r/usr/share/lintian"
  common_etc "$r"
  debian_os_release "$r"
  rm -rf "$r/etc/profile.d"
  [[ ! -e $r/bin/sh ]] || die "distroless has a shell"
  # prove the loader works: run libc.so.6 (it prints its version) through the root's loader
  chroot "$r" /lib64/ld-linux-x86-64.so.2 --version >/dev/null || die "distroless: loader does not run"
}

build_musl() {
  local r=$1 m
  mkdir -p "$r/bin" "$r/sbin" "$r/lib" "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib" "$r/etc/apk"
  m=$(deb_unpacked "$DEBS" "musl:$DA")
  cp "$m/lib/x86_64-linux-musl/libc.so" "$r/lib/ld-musl-x86_64.so.1"
  chmod 755 "$r/lib/ld-musl-x86_64.so.1"
  ln -s ld-musl-x86_64.so.1 "$r/lib/libc.musl-x86_64.so.1"
  busybox_into "$r" /bin alpine
  common_etc "$r"
  mkdevs "$r"
  echo 3.20.3 >"$r/etc/alpine-release"
  cat >"$r/etc/os-release" <<'EOF'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
EOF
  printf 'alpine-baselayout\nbusybox\nmusl\n' >"$r/etc/apk/world"
  echo x86_64 >"$r/etc/apk/arch"
  cat >"$r/etc/profile" <<'EOF'
export CHARSET=UTF-8
export LANG=C.UTF-8
export LC_COLLATE=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PAGER=less
export PS1='\h:\w\$ '
umask 022

for script in /etc/profile.d/*.sh ; do
	if [ -r "$script" ] ; then
		. "$script"
	fi
done
unset script
EOF
  sed -i 's#/usr/sbin/nologin#/sbin/nologin#' "$r/etc/passwd"
  [[ "$(chroot "$r" /bin/sh -c 'echo ok')" == ok ]] || die "musl root: /bin/sh does not run"
  [[ ! -e $r/lib64 ]] || die "musl root has /lib64"
  # prove the musl loader works with a musl-linked program
  if command -v musl-gcc >/dev/null; then
    local t; t=$(mktemp -d)
    printf '#include <stdio.h>\nint main(void){puts("musl-ok");return 0;}\n' >"$t/h.c"
    if musl-gcc -o "$t/h" "$t/h.c" 2>"$t/err"; then
      cp "$t/h" "$r/tmp/musl-hello"
      [[ "$(chroot "$r" /tmp/musl-hello)" == musl-ok ]] || die "musl root: musl loader does not run a musl program"
      rm -f "$r/tmp/musl-hello"
      log "musl loader verified with a musl-gcc program"
    else
      log "musl-gcc failed ($(head -1 "$t/err")); skipping musl loader check"
    fi
    rm -rf "$t"
  else
    log "musl-gcc not installed; skipping musl loader check"
  fi
}

add_gcompat() {
  local r=$1 lc lb
  [[ -e $r/lib/ld-musl-x86_64.so.1 ]] || die "gcompat: $r is not a musl root"
  lc=$(deb_unpacked "$DEBS" "libc6:$DA")
  lb=$(deb_unpacked "$DEBS" "libc-bin:$DA")
  mkdir -p "$r/usr/lib/$TRIP" "$r/lib64" "$r/etc/ld.so.conf.d" "$r/sbin" "$r/var/cache/ldconfig"
  cp -a "$lc/lib/$TRIP"/. "$r/usr/lib/$TRIP/"
  cp -a "$lc/usr/lib/$TRIP"/. "$r/usr/lib/$TRIP/" 2>/dev/null || true
  ln -sfn "/usr/lib/$TRIP/ld-linux-x86-64.so.2" "$r/lib64/ld-linux-x86-64.so.2"
  cp "$lc/etc/ld.so.conf.d/$TRIP.conf" "$r/etc/ld.so.conf.d/"
  cp "$lb/sbin/ldconfig" "$r/sbin/ldconfig"
  [[ -f $r/etc/ld.so.conf ]] || printf 'include /etc/ld.so.conf.d/*.conf\n' >"$r/etc/ld.so.conf"
  chroot "$r" /sbin/ldconfig
  chroot "$r" /lib64/ld-linux-x86-64.so.2 --version >/dev/null || die "gcompat: glibc loader does not run"
}

template() { # kind -> path of a cached, verified template
  local k=$1 t=$BUILD/roots/$1$SFX-$UA
  if [[ -f $t.stamp && "$(cat "$t.stamp")" == "$KEY" && -d $t ]]; then echo "$t"; return; fi
  log "building $k root template in $t"
  rm -rf "$t" "$t.stamp" "$t.new"
  mkdir -p "$t.new"
  chmod 755 "$t.new"
  "build_$k" "$t.new" >&2
  mv "$t.new" "$t"
  echo "$KEY" >"$t.stamp"
  echo "$t"
}

if [[ $KIND == gcompat ]]; then
  [[ -d $DEST ]] || die "gcompat: $DEST does not exist (make it with: $0 musl $DEST)"
  add_gcompat "$DEST"
  log "added glibc (gcompat-style) to $DEST"
  exit 0
fi

T=$(template "$KIND")
if [[ -e $DEST ]]; then
  [[ -d $DEST && -z "$(ls -A "$DEST")" ]] || die "$DEST exists and is not empty"
fi
mkdir -p "$DEST"
cp -a "$T"/. "$DEST/"
log "$KIND root ready at $DEST"
