#!/usr/bin/env bash
# bench-fleet.sh — a fleet of installs at once (issue 17): N concurrent `slurm-installer` runs
# (N = 20 and 50) into N fresh glibc roots, each scenario in turn:
#   apphub            --mirrors GOOD                 one nginx AppHub (scripts/nginx.sh)
#   registry          --mirrors oci://REG/hpc/slurm  one docker-registry (the distribution server)
#   trickle-apphub    --mirrors TRICKLE,GOOD         first mirror answers at once, then trickles
#                                                    every body at FLEET_TRICKLE_BPS (5 KB/s)
#                                                    (headers at once: only the bundle is long)
#   silent-apphub     --mirrors SILENT,GOOD          first mirror sends the headers of every answer,
#                                                    then nothing (index, checksums, bundle alike)
#   dead-apphub       --mirrors DEAD,GOOD            first mirror refuses connections
#   dead-registry     --mirrors DEAD,oci://REG/...   mixed list: dead AppHub, then the registry
#   trickle-registry  --mirrors TRICKLE,oci://REG/...
#   zstd-apphub       --mirrors ZGOOD                one nginx serving `pack --compress zstd` output
#                                                    (issue 25): its bytes column is ÷ the gzip
#                                                    bundle, so it reads as the zstd saving
# and reports per scenario: how many succeeded, wall time, p50/p99 per install, bytes of the bundle
# the good mirror served ÷ (N × bundle size) (from its access log; goal ≤ 1.05) and peak memory
# (max RSS of one install; the sum over the fleet as an upper bound).
#
# Usage: scripts/bench-fleet.sh   (make bench-fleet; as root; needs bin/slurm-installer, nginx,
#        docker-registry, python3, build/e2e/bundle from scripts/build-bundle.sh)
# Env:   FLEET_N="20 50"  FLEET_SCENARIOS="apphub registry ..."  FLEET_TRICKLE_BPS=5120
#        FLEET_DEADLINE=120s (--deadline of every install)  FLEET_OUT=build/bench/fleet
# Output: FLEET_OUT/results.jsonl (one JSON line per scenario and N), FLEET_OUT/table.md
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
BIN=$REPO/bin/slurm-installer
BUNDLE=$REPO/build/e2e/bundle
ROOTSRC=$REPO/build/e2e/roots/glibc-x86_64
NS=${FLEET_N:-20 50}
SCENARIOS=${FLEET_SCENARIOS:-apphub zstd-apphub registry trickle-apphub silent-apphub dead-apphub dead-registry trickle-registry}
BPS=${FLEET_TRICKLE_BPS:-5120}
DEADLINE=${FLEET_DEADLINE:-120s}
OUT=${FLEET_OUT:-$REPO/build/bench/fleet}
[[ -x $BIN ]] || { echo "run make build first" >&2; exit 2; }
[[ -x /usr/bin/docker-registry ]] || { echo "docker-registry missing: run scripts/deps.sh" >&2; exit 2; }
[[ -f $BUNDLE/bundle-x86_64.env ]] || scripts/build-bundle.sh "$BUNDLE" >/dev/null
[[ -d $ROOTSRC ]] || scripts/mkroot.sh glibc "$(mktemp -d)/r" >/dev/null
# shellcheck disable=SC1090,SC1091
source "$BUNDLE/bundle-x86_64.env"
APPHUB=${BUNDLE_APPHUB:-$BUNDLE/apphub}
FLEET="python3 $REPO/scripts/bench/fleet.py"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/bench-fleet.XXXXXX)
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
GOODPORT=$(freeport); ZPORT=$(freeport); REGPORT=$(freeport); TRPORT=$(freeport); SILENTPORT=$(freeport); DEAD=http://127.0.0.1:$(freeport)/
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/nginx.sh stop "$WORK/nginx" >/dev/null 2>&1 || true
  scripts/nginx.sh stop "$WORK/nginx-z" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

GOOD=$(scripts/nginx.sh start "$APPHUB" "$GOODPORT" html "$WORK/nginx" | tail -1)/
echo "bench-fleet: packing the zstd AppHub" >&2
"$BIN" pack --from "$BUNDLE_PAYLOAD/usr/local/slurm" --slurm-version "$BUNDLE_VERSION" --arch "$BUNDLE_ARCH" \
  --out "$WORK/zhub" --compress zstd -q >/dev/null
ZGOOD=$(scripts/nginx.sh start "$WORK/zhub" "$ZPORT" html "$WORK/nginx-z" | tail -1)/
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<CONF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry/storage
http:
  addr: 127.0.0.1:$REGPORT
CONF
/usr/bin/docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/access.log" 2>"$WORK/registry/error.log" &
PIDS+=($!)
$FLEET trickle "$TRPORT" "$APPHUB" "$BPS" & PIDS+=($!)
TRICKLE=http://127.0.0.1:$TRPORT/
$FLEET silent "$SILENTPORT" & PIDS+=($!)
SILENT=http://127.0.0.1:$SILENTPORT/
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$REGPORT/v2/" 2>/dev/null && break; sleep 0.1; done
REG=oci://127.0.0.1:$REGPORT/hpc/slurm
echo "bench-fleet: pushing the bundle to $REG" >&2
"$BIN" pack --from "$BUNDLE_PAYLOAD/usr/local/slurm" --slurm-version "$BUNDLE_VERSION" --arch "$BUNDLE_ARCH" --out "$REG" -q >/dev/null
read -r LAYER LAYERSIZE < <(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://127.0.0.1:$REGPORT/v2/hpc/slurm/manifests/latest-$BUNDLE_ARCH" |
  python3 -c 'import json,sys; l=json.load(sys.stdin)["layers"][0]; print(l["digest"], l["size"])')
TARSIZE=$(stat -L -c %s "$BUNDLE_TARBALL")
echo "bench-fleet: AppHub tarball $TARSIZE bytes, registry layer $LAYERSIZE bytes ($LAYER)" >&2

: >"$OUT/results.jsonl"
for n in $NS; do
  for s in $SCENARIOS; do
    case $s in
      apphub) m=$GOOD ;;
      zstd-apphub) m=$ZGOOD ;;
      registry) m=$REG ;;
      trickle-apphub) m=$TRICKLE,$GOOD ;;
      silent-apphub) m=$SILENT,$GOOD ;;
      dead-apphub) m=$DEAD,$GOOD ;;
      dead-registry) m=$DEAD,$REG ;;
      trickle-registry) m=$TRICKLE,$REG ;;
      *) echo "unknown scenario $s" >&2; exit 2 ;;
    esac
    if [[ $s == *registry ]]; then log=$WORK/registry/access.log; match=/blobs/$LAYER; size=$LAYERSIZE
    elif [[ $s == zstd-* ]]; then log=$WORK/nginx-z/access.log; match=slurm-client-; size=$TARSIZE
    else log=$WORK/nginx/access.log; match=slurm-client-; size=$TARSIZE; fi
    off=$(stat -c %s "$log")
    echo "bench-fleet: $s, N=$n: --mirrors $m" >&2
    $FLEET run "$n" "$WORK/run" "$ROOTSRC" -- "$BIN" --root '{root}' --mirrors "$m" --fallback fail \
      --log-level warn --log-format json --deadline "$DEADLINE" >/dev/null
    sleep 1 # the access logs are written when a response ends
    served=$($FLEET bytes "$log" "$off" "$match")
    line=$($FLEET report "$n" "$WORK/run/results.json" "$served" "$size")
    echo "{\"scenario\":\"$s\",${line#\{}" | tee -a "$OUT/results.jsonl"
    mkdir -p "$OUT/logs/$s-$n" && cp "$WORK"/run/install-*.log "$OUT/logs/$s-$n/" && cp "$WORK/run/results.json" "$OUT/logs/$s-$n/"
    rm -rf "$WORK/run"
  done
done

python3 - "$OUT/results.jsonl" >"$OUT/table.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| scenario | N | succeeded | wall s | p50 s | p99 s | good mirror bytes ÷ (N × bundle) | max RSS / install MB | Σ RSS MB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print("| %s | %d | %d/%d | %.1f | %.1f | %.1f | %.3f | %.1f | %.0f |" % (r["scenario"], r["n"], r["ok"], r["n"], r["wall"], r["p50"], r["p99"], r["load"], r["maxrss_mb"], r["sumrss_mb"]))
PY
cat "$OUT/table.md"
