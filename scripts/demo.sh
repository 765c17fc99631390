#!/usr/bin/env bash
# demo.sh — what `make demo` runs (after `make build` and scripts/deps.sh), as root:
#   1. build the real SLURM client bundle from Debian packages (cached: a no-op when up to date),
#   2. serve it like AppHub with nginx on a free loopback port,
#   3. make a scratch Debian-like glibc root under build/demo,
#   4. install into it: bin/slurm-installer --root ROOT --mirrors http://127.0.0.1:PORT/ (its log shown),
#   5. run the installed `sinfo --version` inside the root, and `slurm-installer status`.
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

step "2. AppHub mirror: nginx on loopback serving $BUNDLE_APPHUB"
PORT=$("$E2E_SCRIPTS/freeport.sh")
URL=$(ARCH=$DA "$E2E_SCRIPTS/nginx.sh" start "$BUNDLE_APPHUB" "$PORT" html "$NG" 2>/dev/null) || fail "nginx did not start (see $NG/error.log)"
echo "mirror: $URL/"

step "3. scratch Debian-like glibc root: $ROOT"
rm -rf "$ROOT"
ARCH=$DA "$E2E_SCRIPTS/mkroot.sh" glibc "$ROOT" "$E2E" 2>/dev/null || fail "could not build the root"
echo "root ready (no SLURM, no /etc/slurm/slurm.conf)"

step "4. slurm-installer --root $ROOT --mirrors $URL/"
"$BIN" --root "$ROOT" --mirrors "$URL/" 2>&1 || fail "slurm-installer exited $?"

step "5. chroot $ROOT /usr/local/bin/sinfo --version"
# Every SLURM command reads slurm.conf before it parses its flags, even --version, and the scratch
# root has no /etc/slurm/slurm.conf (a real container gets the site's config mounted at run time).
# So point SLURM_CONF at a throwaway minimal conf, kept outside /etc/slurm (docs/DESIGN.md §8).
printf 'ClusterName=demo\nSlurmctldHost=localhost\nPluginDir=/usr/local/slurm/lib/slurm\n' >"$ROOT/tmp/demo-slurm.conf"
out=$(chroot "$ROOT" /usr/bin/env -i SLURM_CONF=/tmp/demo-slurm.conf /usr/local/bin/sinfo --version) || fail "sinfo --version did not run in the root"
rm -f "$ROOT/tmp/demo-slurm.conf"
echo "$out"

step "6. slurm-installer --root $ROOT status"
"$BIN" --root "$ROOT" status 2>&1 || fail "status exited $?"

printf '\ndemo OK: SLURM %s installed into %s from %s/ and running there.\n' "$BUNDLE_VERSION" "$ROOT" "$URL"
