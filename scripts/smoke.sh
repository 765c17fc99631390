#!/usr/bin/env bash
# smoke.sh — prove the real-world e2e pieces by hand, without slurm-installer:
#   1. build the bundle and a glibc root, copy the payload in, write linker config, ldconfig,
#      run `sinfo --version` with a throwaway minimal conf (design §8);
#   2. start the one-node cluster, expose it in the root, list the node from inside the root;
#   3. show the exact failure of a glibc command in a musl root, then the same root with gcompat.
#   4. serve the AppHub directory with nginx and fetch the tarball + sha256 through it.
# Usage: scripts/smoke.sh [BUILDDIR]    (default <repo>/build/e2e; scratch in BUILDDIR/smoke)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
BUILD=${1:-$E2E_BUILD_DEFAULT}
S=$BUILD/smoke
CL=$S/cluster
NG=$S/nginx
R=$S/glibc
M=$S/musl

cleanup() {
  "$E2E_SCRIPTS/cluster.sh" unexpose "$R" >/dev/null 2>&1 || true
  "$E2E_SCRIPTS/cluster.sh" stop "$CL" >/dev/null 2>&1 || true
  "$E2E_SCRIPTS/nginx.sh" stop "$NG" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$E2E_SCRIPTS/build-bundle.sh" "$BUILD/bundle" >/dev/null
# shellcheck disable=SC1091
source "$BUILD/bundle/bundle-x86_64.env"
PAY=$BUILD/bundle/payload/usr/local/slurm

mountpoint -q "$R/run/munge" 2>/dev/null && umount "$R/run/munge"
rm -rf "$R" "$M"
"$E2E_SCRIPTS/mkroot.sh" glibc "$R" "$BUILD" 2>/dev/null
"$E2E_SCRIPTS/mkroot.sh" musl "$M" "$BUILD" 2>/dev/null

install_by_hand() { # root
  mkdir -p "$1/usr/local" "$1/var/lib/slurm-installer"
  cp -a "$PAY" "$1/usr/local/slurm"
  printf 'ClusterName=x\nSlurmctldHost=localhost\nPluginDir=/usr/local/slurm/lib/slurm\n' >"$1/var/lib/slurm-installer/verify.conf"
}

echo "== 1. glibc root: sinfo --version with a throwaway conf"
install_by_hand "$R"
echo /usr/local/slurm/lib >"$R/etc/ld.so.conf.d/slurm.conf"
chroot "$R" /sbin/ldconfig
chroot "$R" /usr/bin/env SLURM_CONF=/var/lib/slurm-installer/verify.conf /usr/local/slurm/bin/sinfo --version

echo "== 2. live cluster seen from inside the glibc root"
"$E2E_SCRIPTS/cluster.sh" start "$CL" >/dev/null
"$E2E_SCRIPTS/cluster.sh" expose "$CL" "$R" 2>/dev/null
chroot "$R" /usr/local/slurm/bin/sinfo
chroot "$R" /usr/local/slurm/bin/srun -N1 /bin/echo "job ran via srun from the root"
"$E2E_SCRIPTS/cluster.sh" unexpose "$R" 2>/dev/null

echo "== 3. glibc command in a musl root"
install_by_hand "$M"
printf '/lib:/usr/local/lib:/usr/lib:/usr/local/slurm/lib\n' >"$M/etc/ld-musl-x86_64.path"
set +e
chroot "$M" /usr/local/slurm/bin/sinfo --version; echo "exit $?"
chroot "$M" /bin/sh -c '/usr/local/slurm/bin/sinfo --version'; echo "exit $?"
set -e
echo "-- after scripts/mkroot.sh gcompat + /etc/ld.so.conf.d/slurm.conf + ldconfig:"
"$E2E_SCRIPTS/mkroot.sh" gcompat "$M" "$BUILD" 2>/dev/null
echo /usr/local/slurm/lib >"$M/etc/ld.so.conf.d/slurm.conf"
chroot "$M" /sbin/ldconfig
chroot "$M" /usr/bin/env SLURM_CONF=/var/lib/slurm-installer/verify.conf /usr/local/slurm/bin/sinfo --version

echo "== 4. AppHub over nginx"
PORT=$("$E2E_SCRIPTS/freeport.sh")
URL=$("$E2E_SCRIPTS/nginx.sh" start "$BUILD/bundle/apphub" "$PORT" html "$NG" 2>/dev/null)
T=$(mktemp -d)
curl -fsS -o "$T/b.tgz" "$URL/pkgs/slurm-apk/slurm-client-latest-x86_64-alpine.tar.gz"
want=$(curl -fsS "$URL/pkgs/slurm-apk/slurm-client-latest-x86_64-alpine.tar.gz.sha256" | cut -d' ' -f1)
got=$(sha256sum <"$T/b.tgz" | cut -d' ' -f1)
[[ $want == "$got" ]] || die "sha256 mismatch over nginx"
echo "tarball over nginx: $(stat -c %s "$T/b.tgz") bytes, sha256 ok"
curl -fsS "$URL/pkgs/slurm-binaries/x86_64/VERSION"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/pkgs/slurm/index.json")
echo "index.json: HTTP $code (no index in the seed layouts)"
rm -rf "$T"
echo "== smoke OK"
