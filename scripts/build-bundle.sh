#!/usr/bin/env bash
# build-bundle.sh — build a REAL SLURM client bundle from Debian's slurm-client package and lay it
# out as both AppHub seed layouts (docs/DESIGN.md §4).
#
# Usage: [ARCH=amd64|arm64] [SUITE=trixie] scripts/build-bundle.sh [OUTDIR]
#   OUTDIR defaults to <repo>/build/e2e/bundle. Downloaded .debs are cached in OUTDIR/.debs.
#   SUITE: build from another Debian release's packages (trixie: slurm-client 24.11.x) through a
#   private apt (lib.sh apt_suite: the host's archive URI, that suite, its own lists and state in
#   OUTDIR/../apt-SUITE); the host's sources are never changed. Default: the host's own apt.
#
# Produces (A = x86_64 or aarch64):
#   OUTDIR/payload[-aarch64]/usr/local/slurm/{bin/*,lib/*,lib/slurm/*,VERSION}  (+ empty etc/slurm/)
#   SUITE=trixie also: usr/local/slurm/sbin/sackd (Debian 13's sackd package: auth/slurm, configless cache)
#   OUTDIR/apphub/pkgs/slurm-apk/slurm-client-<V>-<A>-alpine.tar.gz (+ .sha256)
#   OUTDIR/apphub/pkgs/slurm-apk/slurm-client-latest-<A>-alpine.tar.gz -> ... (+ .sha256)
#   amd64 only: slurm-client-<V>-alpine.tar.gz and slurm-client-latest-alpine.tar.gz (symlinks)
#   OUTDIR/apphub/pkgs/slurm-apk/SHA256SUMS
#   OUTDIR/apphub/pkgs/slurm-binaries/<A>/{bin/*,lib/*,lib/slurm/*,VERSION,SHA256SUMS}
#   OUTDIR/bundle-<A>.env   facts (VERSION, sizes, counts, command list) for tests to source
#
# Library layout: every non-glibc shared library (DT_NEEDED, transitively, of every command and
# plugin) is in lib/, including libslurmfull.so; lib/slurm/ holds the plugins as Debian ships them
# (lib/slurm/libslurmfull.so is a relative symlink to ../libslurmfull.so). Only <prefix>/lib must be
# on the dynamic linker path; plugins are dlopen()ed by absolute path from PluginDir.
#
# Re-running with the same inputs (same package version, same scripts) is a no-op (stamp file).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

DA=$(debarch "${ARCH:-amd64}")
UA=$(unamearch "$DA")
TRIP=$(triplet "$DA")
OUT=${1:-$E2E_BUILD_DEFAULT/bundle}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DEBS=$OUT/.debs
if [[ $DA == amd64 ]]; then PAYLOAD=$OUT/payload; else PAYLOAD=$OUT/payload-$UA; fi
APK=$OUT/apphub/pkgs/slurm-apk
TREE=$OUT/apphub/pkgs/slurm-binaries/$UA

READELF=readelf
command -v readelf >/dev/null || die "readelf missing (run scripts/deps.sh)"

[[ -z ${SUITE:-} ]] || apt_suite "$SUITE" "$(dirname "$OUT")/apt-$SUITE" "$DA"
apt_lists_ready "$DA"
mkdir -p "$DEBS/aptcache"
PKGVER=$(apt-cache "${APT_O[@]}" -o "Dir::Cache::pkgcache=$DEBS/aptcache/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$DEBS/aptcache/srcpkgcache.bin" show --no-all-versions "slurm-client:$DA" | awk '/^Version:/{print $2; exit}')
[[ -n $PKGVER ]] || die "apt has no slurm-client:$DA"
V=${PKGVER#*:}; V=${V%%-*}
KEY="$PKGVER $(cat "$E2E_SCRIPTS/build-bundle.sh" "$E2E_SCRIPTS/lib.sh" | sha256sum | cut -c1-16)"
STAMP=$OUT/.stamp-$UA
TGZ=slurm-client-$V-$UA-alpine.tar.gz

summary() {
  # shellcheck disable=SC1090
  source "$OUT/bundle-$UA.env"
  echo "bundle: slurm $BUNDLE_VERSION ($BUNDLE_ARCH) from Debian ${SUITE:-$(. /etc/os-release && echo "$VERSION_CODENAME")} slurm-client $PKGVER"
  echo "  tarball:   $BUNDLE_TARBALL"
  echo "  tree:      $BUNDLE_TREE"
  echo "  payload:   $BUNDLE_PAYLOAD"
  echo "  compressed $BUNDLE_COMPRESSED_BYTES bytes ($((BUNDLE_COMPRESSED_BYTES / 1024)) KiB), unpacked $BUNDLE_UNPACKED_BYTES bytes ($((BUNDLE_UNPACKED_BYTES / 1024)) KiB)"
  echo "  commands:  $BUNDLE_COMMAND_COUNT ($BUNDLE_COMMANDS)"
  echo "  libraries: $BUNDLE_LIB_COUNT files in lib/ ($BUNDLE_LIB_REAL_COUNT real + soname symlinks)"
  echo "  plugins:   $BUNDLE_PLUGIN_COUNT entries in lib/slurm/"
  echo "  linker path needs: <prefix>/lib"
}

if [[ -f $STAMP && "$(cat "$STAMP")" == "$KEY" && -f $APK/$TGZ && -f $TREE/SHA256SUMS && -f $OUT/bundle-$UA.env ]]; then
  log "up to date ($STAMP)"
  summary
  exit 0
fi
rm -f "$STAMP"

log "building slurm $V for $UA from Debian packages (cache $DEBS)"
SC=$(deb_unpacked "$DEBS" "slurm-client:$DA")
BP=$(deb_unpacked "$DEBS" "slurm-wlm-basic-plugins:$DA")
LIBC=$(deb_unpacked "$DEBS" "libc6:$DA")
PLUGDIR=$BP/usr/lib/$TRIP/slurm-wlm
[[ -d $PLUGDIR ]] || die "no plugin dir in slurm-wlm-basic-plugins ($PLUGDIR)"

# glibc's sonames = whatever libc6 ships.
declare -A GLIBC=()
for f in "$LIBC"/lib/"$TRIP"/* "$LIBC"/usr/lib/"$TRIP"/*; do
  [[ -e $f || -L $f ]] && GLIBC[$(basename "$f")]=1
done
for s in libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2 libutil.so.1 \
         ld-linux-x86-64.so.2 ld-linux-aarch64.so.1; do GLIBC[$s]=1; done

# soname index over unpacked packages: name -> path; path owner -> package.
declare -A IDX=() OWNER=() FETCHED=()
index_pkg() { # pkg:arch dir
  local p=$1 x=$2 f
  FETCHED[$p]=1
  for f in "$x"/lib/"$TRIP"/* "$x"/usr/lib/"$TRIP"/*; do
    [[ -f $f ]] || continue
    case $(basename "$f") in *.so|*.so.*) ;; *) continue ;; esac
    [[ -n ${IDX[$(basename "$f")]:-} ]] || { IDX[$(basename "$f")]=$f; OWNER[$f]=$p; }
  done
}
index_pkg "slurm-client:$DA" "$SC"
index_pkg "slurm-wlm-basic-plugins:$DA" "$BP"
# plugin dir too (libslurmfull.so lives there)
for f in "$PLUGDIR"/*.so; do IDX[$(basename "$f")]=$f; OWNER[$f]="slurm-wlm-basic-plugins:$DA"; done

# apt-cache with a private binary cache (this image disables /var/cache/apt/pkgcache.bin, which
# makes every apt-cache call re-parse all lists: ~1.5 s each).
mkdir -p "$DEBS/aptcache"
APTC=(apt-cache "${APT_O[@]}" -o "Dir::Cache::pkgcache=$DEBS/aptcache/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$DEBS/aptcache/srcpkgcache.bin")

# direct library dependencies of a package (lib* names only, minus glibc), memoized in DEPS[pkg]
declare -A DEPS=()
pkg_deps() {
  [[ -n ${DEPS[$1]+x} ]] || DEPS[$1]=$(pkg_deps_uncached "$1" | tr '\n' ' ')
  PKG_DEPS=${DEPS[$1]}
}
pkg_deps_uncached() {
  "${APTC[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$1" 2>/dev/null |
    awk '$1 ~ /Depends:/ {print $2}' | sed 's/:.*//; s/[<>]//g' |
    grep -E '^(lib|zlib1g$)' | grep -vxE 'libc6|libc-bin|libgcc-s1|libc6-dev' | sort -u || true
}

needed() { $READELF -d "$1" 2>/dev/null | awk '/\(NEEDED\)/{gsub(/[\[\]]/,"",$5); print $5}'; }

declare -A WANT=()   # soname -> path (non-glibc libs to ship)
QUEUE=()
for f in "$SC"/usr/bin/*; do QUEUE+=("$f|slurm-client:$DA"); done
# sackd (SLURM 23.11+; Debian 13's own package): the auth/slurm agent and configless cache a client
# host runs (issue 24: `connect` starts it). The bundle carries it in sbin/, not on PATH.
SK=""
if [[ ${SUITE:-} == trixie ]]; then
  SK=$(deb_unpacked "$DEBS" "sackd:$DA")
  index_pkg "sackd:$DA" "$SK"
  QUEUE+=("$SK/usr/sbin/sackd|sackd:$DA")
fi
for f in "$PLUGDIR"/*.so; do [[ -L $f ]] || QUEUE+=("$f|slurm-wlm-basic-plugins:$DA"); done

resolve() { # soname ownerpkg -> sets IDX by fetching deps when needed
  local s=$1 owner=$2 d
  [[ -n ${IDX[$s]:-} ]] && return 0
  pkg_deps "$owner"
  for d in $PKG_DEPS; do
    [[ -n ${FETCHED[$d:$DA]:-} ]] && continue
    log "  fetching $d:$DA (for $s needed via $owner)"
    index_pkg "$d:$DA" "$(deb_unpacked "$DEBS" "$d:$DA")"
    [[ -n ${IDX[$s]:-} ]] && return 0
  done
  # second chance: deps of every fetched package
  local p
  for p in "${!FETCHED[@]}"; do
    pkg_deps "$p"
    for d in $PKG_DEPS; do
      [[ -n ${FETCHED[$d:$DA]:-} ]] && continue
      log "  fetching $d:$DA (searching for $s)"
      index_pkg "$d:$DA" "$(deb_unpacked "$DEBS" "$d:$DA")"
      [[ -n ${IDX[$s]:-} ]] && return 0
    done
  done
  return 1
}

declare -A SEEN=()
while ((${#QUEUE[@]})); do
  item=${QUEUE[0]}; QUEUE=("${QUEUE[@]:1}")
  elf=${item%|*}; owner=${item#*|}
  [[ -n ${SEEN[$elf]:-} ]] && continue
  SEEN[$elf]=1
  for s in $(needed "$elf"); do
    [[ -n ${GLIBC[$s]:-} ]] && continue
    if ! resolve "$s" "$owner"; then die "cannot find a package providing $s (needed by $(basename "$elf"))"; fi
    p=${IDX[$s]}
    if [[ -z ${WANT[$s]:-} ]]; then
      WANT[$s]=$p
      QUEUE+=("$(readlink -f "$p")|${OWNER[$p]}")
    fi
  done
done

# --- assemble the payload --------------------------------------------------------------------
NEW=$(mktemp -d "$OUT/.payload.XXXXXX")
chmod 755 "$NEW"
P=$NEW/usr/local/slurm
mkdir -p "$P/bin" "$P/lib/slurm" "$NEW/etc/slurm"
cp -a "$SC"/usr/bin/* "$P/bin/"
if [[ -n $SK ]]; then mkdir -p "$P/sbin"; cp -a "$SK/usr/sbin/sackd" "$P/sbin/sackd"; fi
cp -a "$PLUGDIR"/. "$P/lib/slurm/"
for s in "${!WANT[@]}"; do
  src=${WANT[$s]}
  if [[ $s == libslurmfull.so ]]; then
    mv "$P/lib/slurm/libslurmfull.so" "$P/lib/libslurmfull.so"
    ln -s ../libslurmfull.so "$P/lib/slurm/libslurmfull.so"
    continue
  fi
  real=$(readlink -f "$src")
  rn=$(basename "$real")
  [[ -e $P/lib/$rn ]] || cp "$real" "$P/lib/$rn"
  [[ $rn == "$s" || -e $P/lib/$s ]] || ln -s "$rn" "$P/lib/$s"
done
echo "$V" >"$P/VERSION"
chmod -R u+rwX,go+rX,go-w "$NEW"

# self-check: every NEEDED of every ELF in the payload resolves to glibc or lib/
while IFS= read -r -d '' f; do
  for s in $(needed "$f"); do
    [[ -n ${GLIBC[$s]:-} || -e $P/lib/$s ]] || die "self-check: $f needs $s which is not in lib/"
  done
done < <(find "$P" -type f -name '*' -print0)

rm -rf "$PAYLOAD.old"
[[ -e $PAYLOAD ]] && mv "$PAYLOAD" "$PAYLOAD.old"
mv "$NEW" "$PAYLOAD"
rm -rf "$PAYLOAD.old"
P=$PAYLOAD/usr/local/slurm

# --- tarball layout --------------------------------------------------------------------------
mkdir -p "$APK"
TR=$(mktemp -d "$OUT/.tarroot.XXXXXX")
chmod 755 "$TR"
cp -a "$PAYLOAD"/. "$TR/"
cat >"$TR/README.md" <<EOF
# SLURM client $V ($UA)

Built from Debian ${SUITE:-$(. /etc/os-release && echo "$VERSION_CODENAME")}'s slurm-client $PKGVER and its libraries. Commands in usr/local/slurm/bin,
libraries in usr/local/slurm/lib (put it on the dynamic linker path), plugins in
usr/local/slurm/lib/slurm (set PluginDir=/usr/local/slurm/lib/slurm in slurm.conf).
EOF
cat >"$TR/install.sh" <<'EOF'
#!/bin/sh
# Legacy helper shipped with the bundle; slurm-installer never runs it.
echo "install.sh: use slurm-installer instead" >&2
exit 0
EOF
cat >"$TR/uninstall.sh" <<'EOF'
#!/bin/sh
# Legacy helper shipped with the bundle; slurm-installer never runs it.
echo "uninstall.sh: use slurm-installer uninstall instead" >&2
exit 0
EOF
chmod 755 "$TR/install.sh" "$TR/uninstall.sh"
chmod 644 "$TR/README.md"
(cd "$TR" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
  -cf - README.md install.sh uninstall.sh etc usr) | gzip -n -9 >"$APK/.$TGZ.tmp"
mv "$APK/.$TGZ.tmp" "$APK/$TGZ"
rm -rf "$TR"

link() { ln -sfn "$1" "$APK/$2"; }
link "$TGZ" "slurm-client-latest-$UA-alpine.tar.gz"
if [[ $DA == amd64 ]]; then
  link "$TGZ" "slurm-client-$V-alpine.tar.gz"
  link "$TGZ" "slurm-client-latest-alpine.tar.gz"
fi
(
  cd "$APK"
  rm -f SHA256SUMS.tmp
  for n in *.tar.gz; do
    h=$(sha256sum <"$n" | cut -d' ' -f1)
    printf '%s  %s\n' "$h" "$n" >"$n.sha256"
    printf '%s  %s\n' "$h" "$n" >>SHA256SUMS.tmp
  done
  mv SHA256SUMS.tmp SHA256SUMS
)

# --- tree layout -----------------------------------------------------------------------------
rm -rf "$TREE.new"
mkdir -p "$TREE.new"
cp -a "$P"/. "$TREE.new/"
(cd "$TREE.new" && find . \( -type f -o -type l \) ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort |
  xargs -d '\n' sha256sum >SHA256SUMS)
rm -rf "$TREE"
mv "$TREE.new" "$TREE"

# --- facts -----------------------------------------------------------------------------------
CMDS=$(cd "$P/bin" && ls | tr '\n' ' ' | sed 's/ $//')
cat >"$OUT/bundle-$UA.env" <<EOF
BUNDLE_VERSION=$V
BUNDLE_ARCH=$UA
BUNDLE_DEB_VERSION=$PKGVER
BUNDLE_PAYLOAD=$PAYLOAD
BUNDLE_TARBALL=$APK/$TGZ
BUNDLE_TARBALL_SHA256=$(cut -d' ' -f1 "$APK/$TGZ.sha256")
BUNDLE_TREE=$TREE
BUNDLE_APPHUB=$OUT/apphub
BUNDLE_COMPRESSED_BYTES=$(stat -c %s "$APK/$TGZ")
BUNDLE_UNPACKED_BYTES=$(du -sb --apparent-size "$P" | cut -f1)
BUNDLE_COMMANDS="$CMDS"
BUNDLE_COMMAND_COUNT=$(ls "$P/bin" | wc -l)
BUNDLE_LIB_COUNT=$(find "$P/lib" -maxdepth 1 \( -type f -o -type l \) | wc -l)
BUNDLE_LIB_REAL_COUNT=$(find "$P/lib" -maxdepth 1 -type f | wc -l)
BUNDLE_PLUGIN_COUNT=$(find "$P/lib/slurm" -maxdepth 1 \( -type f -o -type l \) | wc -l)
BUNDLE_LINKER_DIRS="/usr/local/slurm/lib"
EOF
echo "$KEY" >"$STAMP"
summary
