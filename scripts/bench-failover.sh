#!/usr/bin/env bash
# bench-failover.sh — time fail-over over [blackhole, refused, good] mirrors on 127.0.0.1 (issue 4):
#   (a) slurm-installer --mirrors BLACKHOLE,REFUSED,GOOD (default settings)
#   (b) the shell recipe it replaces: wget --timeout=10 --tries=2 per mirror, then tar xzf.
# Usage: scripts/bench-failover.sh   (needs bin/slurm-installer, nginx, wget, python3,
#        build/e2e/bundle/apphub from scripts/build-bundle.sh and a glibc root from scripts/mkroot.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
BIN=$REPO/bin/slurm-installer
APPHUB=$REPO/build/e2e/bundle/apphub
ROOTSRC=$REPO/build/e2e/roots/glibc-x86_64
[[ -x $BIN ]] || { echo "run make build first" >&2; exit 2; }
[[ -d $APPHUB ]] || { echo "run scripts/build-bundle.sh first" >&2; exit 2; }
[[ -d $ROOTSRC ]] || scripts/mkroot.sh glibc "$ROOTSRC" >/dev/null
WORK=$(mktemp -d)
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
GOODPORT=$(freeport); REFUSED=http://127.0.0.1:$(freeport)
BHPORT=$(freeport); BLACKHOLE=http://127.0.0.1:$BHPORT
# A blackhole: accepts TCP connections and never answers.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$BHPORT" & BHPID=$!
cleanup() { kill "$BHPID" 2>/dev/null || true; scripts/nginx.sh stop "$WORK/nginx" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
GOOD=$(scripts/nginx.sh start "$APPHUB" "$GOODPORT" html "$WORK/nginx" | tail -1)
sleep 0.2
now() { date +%s.%N; }

cp -a "$ROOTSRC" "$WORK/root"
t0=$(now)
"$BIN" --root "$WORK/root" --mirrors "$BLACKHOLE,$REFUSED,$GOOD" --fallback fail --log-level warn
t1=$(now)

mkdir -p "$WORK/recipe" && cd "$WORK/recipe"
t2=$(now)
for m in "$BLACKHOLE" "$REFUSED" "$GOOD"; do
  wget -q --timeout=10 --tries=2 -O bundle.tgz "$m/pkgs/slurm-apk/slurm-client-latest-alpine.tar.gz" && break
done
tar xzf bundle.tgz
t3=$(now)
cd "$REPO"
printf 'slurm-installer [blackhole, refused, good]: %.2fs (download, verify, install, sinfo check)\n' "$(echo "$t1 - $t0" | bc)"
printf 'wget --timeout=10 --tries=2 loop + tar xzf:  %.2fs\n' "$(echo "$t3 - $t2" | bc)"
