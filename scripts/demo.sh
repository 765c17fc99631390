#!/usr/bin/env bash
# demo.sh — what `make demo` runs (after building this host's binary and `scripts/deps.sh demo`), as root:
#   1. build the real SLURM client bundle from Debian packages (cached: a no-op when up to date),
#      and pack it once more as a self-contained bundle (it carries its own glibc),
#   2. serve both like AppHub with nginx on a free loopback port (URL/plain/, URL/sc/),
#   3. make two scratch roots under build/demo: a Debian-like glibc root and an Alpine-like musl root,
#   4. `slurm-installer list`: what each mirror offers and what can run in the Alpine root,
#   5. install the plain bundle into the glibc root and the self-contained one into the Alpine root
#      (--strict: a failure fails the demo), run the installed `sinfo --version` in each,
#      and `slurm-installer status`.
# nginx is stopped on exit, whatever happens. Exits non-zero if any step fails.
# Usage: scripts/demo.sh [BUILDDIR]     (default <repo>/build; scratch in BUILDDIR/demo)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

BUILD=${1:-$E2E_TOP/build}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
E2E=$BUILD/e2e                 # bundle and root templates are shared with `make e2e`
DEMO=$BUILD/demo
ROOT=$DEMO/root
AROOT=$DEMO/alpine
WWW=$DEMO/www
NG=$DEMO/nginx
BIN=$E2E_TOP/bin/slurm-installer
case $(uname -m) in aarch64|arm64) DA=arm64 UA=aarch64 ;; *) DA=amd64 UA=x86_64 ;; esac

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\ndemo FAILED: %s\n' "$*" >&2; exit 1; }

[[ -x $BIN ]] || fail "$BIN missing (run: make build)"

cleanup() {
  "$E2E_SCRIPTS/nginx.sh" stop "$NG" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

step "1. real SLURM client bundle from Debian's slurm-client (cached in $E2E/bundle)"
out=$(ARCH=$DA "$E2E_SCRIPTS/build-bundle.sh" "$E2E/bundle" 2>&1) || { echo "$out"; fail "bundle build"; }
grep -v '^\[build-bundle.sh\] up to date' <<<"$out" || true
# shellcheck disable=SC1090
source "$E2E/bundle/bundle-$UA.env"
rm -rf "$WWW"
mkdir -p "$WWW"
ln -s "$BUNDLE_APPHUB" "$WWW/plain"
echo "plain bundle: $BUNDLE_TARBALL"
"$BIN" pack --quiet --self-contained --from "$BUNDLE_PAYLOAD/usr/local/slurm" --slurm-version "$BUNDLE_VERSION" \
  --arch "$UA" --out "$WWW/sc" || fail "pack --self-contained exited $?"

step "2. AppHub mirrors: nginx on loopback serving $WWW"
PORT=$("$E2E_SCRIPTS/freeport.sh")
URL=$(ARCH=$DA "$E2E_SCRIPTS/nginx.sh" start "$WWW" "$PORT" html "$NG" 2>/dev/null) || fail "nginx did not start (see $NG/error.log)"
echo "mirrors: $URL/plain/ (Debian's build, uses the root's glibc) and $URL/sc/ (self-contained)"

step "3. scratch roots: $ROOT (Debian-like, glibc) and $AROOT (Alpine-like, musl)"
rm -rf "$ROOT" "$AROOT"
ARCH=$DA "$E2E_SCRIPTS/mkroot.sh" glibc "$ROOT" "$E2E" >/dev/null 2>&1 || fail "could not build the glibc root"
ARCH=$DA "$E2E_SCRIPTS/mkroot.sh" musl "$AROOT" "$E2E" >/dev/null 2>&1 || fail "could not build the musl root"
echo "roots ready (no SLURM, no /etc/slurm/slurm.conf)"

step "4. slurm-installer list --root $AROOT --mirrors $URL/plain/,$URL/sc/"
"$BIN" list --quiet --root "$AROOT" --mirrors "$URL/plain/,$URL/sc/" || fail "list exited $?"

# Every SLURM command reads slurm.conf before it parses its flags, even --version, and the scratch
# roots have no /etc/slurm/slurm.conf (a real container gets the site's config mounted at run time).
# So point SLURM_CONF at a throwaway minimal conf, kept outside /etc/slurm (docs/DESIGN.md §8).
run_sinfo() {
  local root=$1 out
  printf 'ClusterName=demo\nSlurmctldHost=localhost\nPluginDir=/usr/local/slurm/lib/slurm\n' >"$root/tmp/demo-slurm.conf"
  out=$(chroot "$root" /usr/bin/env -i SLURM_CONF=/tmp/demo-slurm.conf /usr/local/bin/sinfo --version) ||
    fail "sinfo --version did not run in $root"
  rm -f "$root/tmp/demo-slurm.conf"
  echo "$out"
}

step "5. glibc root: slurm-installer --root $ROOT --mirrors $URL/plain/ --strict"
"$BIN" --root "$ROOT" --mirrors "$URL/plain/" --strict 2>&1 || fail "slurm-installer exited $?"
echo "--- chroot $ROOT sinfo --version"
run_sinfo "$ROOT"
"$BIN" --root "$ROOT" status 2>&1 || fail "status exited $?"

step "6. Alpine root: slurm-installer --root $AROOT --mirrors $URL/sc/ --strict"
"$BIN" --root "$AROOT" --mirrors "$URL/sc/" --strict 2>&1 || fail "slurm-installer exited $?"
echo "--- chroot $AROOT sinfo --version"
run_sinfo "$AROOT"
"$BIN" --root "$AROOT" status 2>&1 || fail "status exited $?"

printf '\ndemo OK: SLURM %s installed from %s and running in a glibc root (%s) and an Alpine-like root (%s).\n' \
  "$BUNDLE_VERSION" "$URL" "$ROOT" "$AROOT"
