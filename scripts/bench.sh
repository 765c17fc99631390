#!/usr/bin/env bash
# bench.sh — slurm-installer against the shell recipe it replaces, side by side, in one run (issue 8).
#
# Usage: scripts/bench.sh            (as root; what `make bench` runs after make build,
#                                     scripts/deps.sh and scripts/build-bundle.sh)
#   BENCH_RUNS=7        runs per fast case and tool
#   BENCH_SLOW_RUNS=3   runs of the recipe over [blackhole, refused, healthy] (~20 s each)
#   BENCH_BIG_RUNS=3    runs per tool of the large bundle
#   BENCH_BIG_MB=500    size of the random pad file in the large bundle's lib/
#   BENCH_OUT=docs      where BENCHMARKS.md and bench-medians.svg go
#   BENCH_SMOKE=1       one run each, a 20 MB pad, output under build/bench/smoke (make e2e runs it)
#   BENCH_DOCKER=0      leave out the Docker image builds (scripts/bench-docker.sh, ~4 min; its
#                       own BENCH_DOCKER_RUNS=5); never in the smoke run
#
# Each run starts from a fresh copy of the same glibc root (scripts/mkroot.sh glibc), made outside
# the timed region. The two tools:
#   installer  bin/slurm-installer --root ROOT --mirrors M1,M2,... --fallback fail
#              (download, sha256 check, safe extraction, atomic commit, ld.so config + ldconfig,
#              and the `sinfo --version` run inside the root: all part of its time)
#   recipe     for each mirror: wget -q --timeout=10 --tries=2 -O ROOT/tmp/bundle.tgz
#              M/pkgs/slurm-apk/slurm-client-latest-alpine.tar.gz, first success wins; then
#              cd ROOT && tar xzf tmp/bundle.tgz; chroot ROOT /bin/sh /install.sh (the bundle's
#              script, run as the old recipe ran it, inside the target); LD_LIBRARY_PATH appended to
#              ROOT/etc/profile; rm tmp/bundle.tgz. No checksum, no check that sinfo runs.
# Mirrors on 127.0.0.1: nginx (healthy), a blackhole (accepts, never answers), a refused port, and a
# python3 http.server that answers 503 to its first 3 requests (scripts/bench/servers.py).
# Raw samples go to build/bench/samples.tsv; scripts/bench/report.py writes the Markdown and the SVG.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
cd "$E2E_TOP"
REPO=$PWD
# what the benchmark needs beyond scripts/deps.sh: GNU time, bc, wget (the recipe), python3 (mirrors, report)
missing=()
for c in /usr/bin/time:time bc:bc wget:wget python3:python3; do
  command -v "${c%%:*}" >/dev/null || missing+=("${c#*:}")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null; }
fi
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

SMOKE=${BENCH_SMOKE:-0}
if [[ $SMOKE == 1 ]]; then
  RUNS=${BENCH_RUNS:-1} SLOW_RUNS=${BENCH_SLOW_RUNS:-1} BIG_RUNS=${BENCH_BIG_RUNS:-1} BIG_MB=${BENCH_BIG_MB:-20}
  OUT=${BENCH_OUT:-$REPO/build/bench/smoke}
else
  RUNS=${BENCH_RUNS:-7} SLOW_RUNS=${BENCH_SLOW_RUNS:-3} BIG_RUNS=${BENCH_BIG_RUNS:-3} BIG_MB=${BENCH_BIG_MB:-500}
  OUT=${BENCH_OUT:-$REPO/docs}
fi
BIN=$REPO/bin/slurm-installer
BUNDLE=$REPO/build/e2e/bundle
APPHUB=$BUNDLE/apphub
BENCH=$REPO/build/bench
ROOTSRC=$BENCH/root-template
TIME=/usr/bin/time
[[ -x $BIN ]] || die "bin/slurm-installer missing: run make build"
[[ -f $BUNDLE/bundle-x86_64.env ]] || die "no bundle: run scripts/build-bundle.sh"
for t in nginx tar gzip chroot; do command -v $t >/dev/null || die "$t missing (run scripts/deps.sh)"; done
# shellcheck disable=SC1091
source "$BUNDLE/bundle-x86_64.env"

mkdir -p "$BENCH" "$OUT"
[[ -d $ROOTSRC ]] || "$E2E_SCRIPTS/mkroot.sh" glibc "$ROOTSRC" >/dev/null
WORK=$(mktemp -d "$BENCH/run.XXXXXX")
SAMPLES=$BENCH/samples.tsv
: >"$SAMPLES"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "$E2E_SCRIPTS/nginx.sh" stop "$WORK/nginx" >/dev/null 2>&1 || true
  "$E2E_SCRIPTS/nginx.sh" stop "$WORK/nginx-big" >/dev/null 2>&1 || true
  "$E2E_SCRIPTS/nginx.sh" stop "$WORK/nginx-zstd" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- mirrors ---------------------------------------------------------------------------------
port() { "$E2E_SCRIPTS/freeport.sh"; }
GOOD=$("$E2E_SCRIPTS/nginx.sh" start "$APPHUB" "$(port)" html "$WORK/nginx" 2>/dev/null | tail -1)
REFUSED=http://127.0.0.1:$(port)
p=$(port); "$PY" scripts/bench/servers.py blackhole "$p" & PIDS+=($!); BLACKHOLE=http://127.0.0.1:$p
p=$(port); "$PY" scripts/bench/servers.py flaky "$p" "$APPHUB" 3 & PIDS+=($!); FLAKY=http://127.0.0.1:$p
wait_port 127.0.0.1 "${BLACKHOLE##*:}" 5 || die "blackhole did not start"
wait_port 127.0.0.1 "${FLAKY##*:}" 5 || die "flaky mirror did not start"
reset_flaky() { wget -q -O /dev/null "$FLAKY/__reset" 2>/dev/null || true; }

# --- the large bundle: the real payload + lib/pad.bin of BIG_MB random bytes, tarball layout ----
BIGHUB=$BENCH/big-$BIG_MB/apphub
BIGKEY="$BUNDLE_TARBALL_SHA256 $BIG_MB"
build_big() {
  local apk=$BIGHUB/pkgs/slurm-apk tgz=slurm-client-$BUNDLE_VERSION-x86_64-alpine.tar.gz tr n
  if [[ -f $BIGHUB/.stamp && $(cat "$BIGHUB/.stamp") == "$BIGKEY" ]]; then return 0; fi
  log "building the ${BIG_MB} MB bundle (cached in $BIGHUB)"
  rm -rf "$BIGHUB"; mkdir -p "$apk"
  tr=$(mktemp -d "$BENCH/big.XXXXXX"); chmod 755 "$tr"
  tar -C "$tr" -xzf "$BUNDLE_TARBALL"
  head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$tr/usr/local/slurm/lib/pad.bin"
  (cd "$tr" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
    -cf - README.md install.sh uninstall.sh etc usr) | gzip -n >"$apk/$tgz"
  rm -rf "$tr"
  ln -s "$tgz" "$apk/slurm-client-latest-x86_64-alpine.tar.gz"
  ln -s "$tgz" "$apk/slurm-client-latest-alpine.tar.gz"
  (cd "$apk" && for n in *.tar.gz; do printf '%s  %s\n' "$(sha256sum <"$n" | cut -d' ' -f1)" "$n" >"$n.sha256"; done)
  echo "$BIGKEY" >"$BIGHUB/.stamp"
}
build_big
BIGTGZ=$BIGHUB/pkgs/slurm-apk/slurm-client-$BUNDLE_VERSION-x86_64-alpine.tar.gz
BIGGOOD=$("$E2E_SCRIPTS/nginx.sh" start "$BIGHUB" "$(port)" html "$WORK/nginx-big" 2>/dev/null | tail -1)
BIG_UNPACKED=$(tar tvzf "$BIGTGZ" | awk '{s += $3} END {print s}')

# --- the zstd mirror (issue 25): the same payload packed by `pack --compress zstd` (.tar.zst and
# its index entry beside a .tar.gz); the installer takes the zstd bundle, the recipe's floor stays
# wget + tar xzf of the gzip bundle on the healthy mirror.
ZHUB=$BENCH/zstd-hub
rm -rf "$ZHUB"
"$BIN" pack --from "$BUNDLE_PAYLOAD/usr/local/slurm" --slurm-version "$BUNDLE_VERSION" --arch x86_64 \
  --out "$ZHUB" --compress zstd -q >/dev/null 2>&1 || die "pack --compress zstd failed"
ZTAR=$ZHUB/pkgs/slurm-apk/slurm-client-$BUNDLE_VERSION-x86_64-alpine.tar.zst
ZGOOD=$("$E2E_SCRIPTS/nginx.sh" start "$ZHUB" "$(port)" html "$WORK/nginx-zstd" 2>/dev/null | tail -1)

# --- the two tools ---------------------------------------------------------------------------
fresh_root() { rm -rf "$WORK/root"; cp -a "$ROOTSRC" "$WORK/root"; sync -f "$WORK/root" 2>/dev/null || true; }

# installer MIRRORS...: run it under GNU time; sets ELAPSED (s), RSS (KiB), RC.
installer() {
  local t0 t1 IFS=,
  t0=$EPOCHREALTIME
  set +e
  "$TIME" -f '%M %U %S' -o "$WORK/rss" "$BIN" --root "$WORK/root" --mirrors "$*" --fallback fail >"$WORK/log" 2>&1
  RC=$?
  set -e
  t1=$EPOCHREALTIME
  ELAPSED=$(echo "$t1 - $t0" | bc)
  RSS=$(tail -1 "$WORK/rss" | cut -d' ' -f1)
  CPU=$(tail -1 "$WORK/rss" | awk '{print $2 + $3}')
}

# usage FILE: the measured lines GNU time appended to FILE (-a), as "maxrss cpu-seconds".
usage() { grep -E '^[0-9]+ [0-9.]+ [0-9.]+$' "$1" 2>/dev/null | awk '{if ($1 > m) m = $1; c += $2 + $3} END {print m + 0, c + 0}'; }

# recipe MIRRORS...: the shell recipe; sets ELAPSED, RSS (max over wget and tar), CPU (user+sys
# of wget, tar, install.sh), RC.
recipe() {
  local t0 t1 m rc=4 r=$WORK/root rw=0 rt=0 cw ct ci
  rm -f "$WORK/rss-wget" "$WORK/rss-tar" "$WORK/rss-inst"
  t0=$EPOCHREALTIME
  set +e
  for m in "$@"; do
    if "$TIME" -a -f '%M %U %S' -o "$WORK/rss-wget" wget -q --timeout=10 --tries=2 -O "$r/tmp/bundle.tgz" \
        "$m/pkgs/slurm-apk/slurm-client-latest-alpine.tar.gz" 2>/dev/null; then rc=0; break; fi
  done
  if ((rc == 0)); then
    (cd "$r" && "$TIME" -f '%M %U %S' -o "$WORK/rss-tar" tar xzf tmp/bundle.tgz) || rc=6
  fi
  if ((rc == 0)); then "$TIME" -f '%M %U %S' -o "$WORK/rss-inst" chroot "$r" /bin/sh /install.sh >/dev/null 2>&1 || rc=7; fi
  if ((rc == 0)); then
    echo 'export LD_LIBRARY_PATH=/usr/local/slurm/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}' >>"$r/etc/profile"
    rm -f "$r/tmp/bundle.tgz"
  fi
  set -e
  t1=$EPOCHREALTIME
  RC=$rc
  ELAPSED=$(echo "$t1 - $t0" | bc)
  read -r rw cw < <(usage "$WORK/rss-wget"); read -r rt ct < <(usage "$WORK/rss-tar")
  read -r _ ci < <(usage "$WORK/rss-inst")
  RSS_WGET=$rw RSS_TAR=$rt
  RSS=$((rw > rt ? rw : rt))
  CPU=$(echo "$cw + $ct + $ci" | bc)
}

# sample CASE TOOL EXTRA: append the last run to the samples.
sample() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$ELAPSED" "$RSS" "$RC" "${3:-}" "$CPU" >>"$SAMPLES"
  printf '  %-10s %-9s %8.3f s  cpu %6.2f s  rss %6s KiB  exit %s %s\n' "$1" "$2" "$ELAPSED" "$CPU" "$RSS" "$RC" "${3:-}" >&2
}

# bench CASE RUNS_INSTALLER RUNS_RECIPE PRE MIRRORS...: fresh root each run; PRE runs before each.
bench() {
  local c=$1 ni=$2 nr=$3 pre=$4 i; shift 4
  log "case $c: mirrors $*"
  for ((i = 0; i < ni; i++)); do fresh_root; $pre; installer "$@"; sample "$c" installer
    [[ $RC == 0 ]] || { tail -5 "$WORK/log" >&2; }
  done
  for ((i = 0; i < nr; i++)); do fresh_root; $pre; recipe "$@"; sample "$c" recipe; done
}

START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# warm-up (page cache, nginx), not recorded
fresh_root; installer "$GOOD"; fresh_root; recipe "$GOOD"

bench healthy "$RUNS" "$RUNS" true "$GOOD"
# The floor (issue 25): wget + tar xzf of the gzip bundle from the healthy mirror, nothing else
# (no install.sh, no checksum). Interleaved per round: installer from the zstd mirror, installer from
# the gzip mirror, the floor; each into its own fresh root.
floor() {
  local t0 r=$WORK/root
  t0=$EPOCHREALTIME
  set +e
  (cd "$r" && "$TIME" -f '%M %U %S' -o "$WORK/rss-floor" sh -c "wget -q -O tmp/bundle.tgz '$1/pkgs/slurm-apk/slurm-client-latest-alpine.tar.gz' && tar xzf tmp/bundle.tgz")
  RC=$?
  set -e
  ELAPSED=$(echo "$EPOCHREALTIME - $t0" | bc)
  read -r RSS CPU < <(usage "$WORK/rss-floor")
}
log "cases healthy-zstd, healthy-gzip: installer from $ZGOOD (zstd) and $GOOD (gzip) against the floor, interleaved"
for ((i = 0; i < RUNS; i++)); do
  fresh_root; installer "$ZGOOD"; sample healthy-zstd installer
  [[ $RC == 0 ]] || tail -5 "$WORK/log" >&2
  fresh_root; installer "$GOOD"; sample healthy-gzip installer
  [[ $RC == 0 ]] || tail -5 "$WORK/log" >&2
  fresh_root; floor "$GOOD"; sample healthy-zstd floor; sample healthy-gzip floor
done

# Phase breakdown (the `install phases` debug line), zstd and gzip, PHASE_RUNS each, not timed
# against anything: the JSON log's fields go to phases.tsv.
PHASES=$BENCH/phases.tsv
: >"$PHASES"
for ((i = 0; i < ${BENCH_PHASE_RUNS:-5}; i++)); do
  for m in zstd:$ZGOOD gzip:$GOOD; do
    fresh_root
    "$BIN" --root "$WORK/root" --mirrors "${m#*:}" --fallback fail --log-level debug --log-format json >/dev/null 2>"$WORK/phlog" ||
      { tail -5 "$WORK/phlog" >&2; die "phase run failed"; }
    printf '%s\t%s\n' "${m%%:*}" "$(grep '"install phases"' "$WORK/phlog" | tail -1)" >>"$PHASES"
  done
done

bench failover "$RUNS" "$SLOW_RUNS" true "$BLACKHOLE" "$REFUSED" "$GOOD"
bench flaky "$RUNS" "$RUNS" reset_flaky "$FLAKY" "$GOOD"
bench flaky-only "$RUNS" "$RUNS" reset_flaky "$FLAKY"

log "case noop: re-run on an installed, intact root"
fresh_root; installer "$GOOD"; [[ $RC == 0 ]] || die "install for the no-op case failed"
for ((i = 0; i < RUNS; i++)); do installer "$GOOD"; sample noop installer; done
fresh_root; recipe "$GOOD"
for ((i = 0; i < RUNS; i++)); do recipe "$GOOD"; sample noop recipe; done

log "case big: ${BIG_MB} MB pad, $(stat -c %s "$BIGTGZ") bytes gzipped, $BIG_UNPACKED unpacked"
for ((i = 0; i < BIG_RUNS; i++)); do
  fresh_root; installer "$BIGGOOD"
  took=$(grep -o 'bundle extracted and checked.*' "$WORK/log" | grep -o 'took=[0-9.a-zµ]*' | head -1 | cut -d= -f2)
  sample big installer "extract=$took"
  [[ $RC == 0 ]] || tail -5 "$WORK/log" >&2
done
rm -rf "$WORK/root"
for ((i = 0; i < BIG_RUNS; i++)); do
  fresh_root; recipe "$BIGGOOD"; sample big recipe "wget=$RSS_WGET tar=$RSS_TAR"
done
rm -rf "$WORK/root"
# tar xzf of the same file alone, as the extraction baseline
for ((i = 0; i < BIG_RUNS; i++)); do
  rm -rf "$WORK/x"; mkdir -p "$WORK/x"; sync
  t0=$EPOCHREALTIME
  "$TIME" -f '%M %U %S' -o "$WORK/rss" tar -C "$WORK/x" -xzf "$BIGTGZ"; RC=$?
  ELAPSED=$(echo "$EPOCHREALTIME - $t0" | bc); read -r RSS CPU < <(usage "$WORK/rss")
  sample big-extract tar
done
rm -rf "$WORK/x"

log "case size: static binaries, and what each dependency adds (scripts/bench/binsize.sh)"
SIZES=()
for a in amd64 arm64; do SIZES+=("$a=$(stat -c %s "$REPO/bin/slurm-installer-linux-$a")"); done
bash scripts/bench/binsize.sh >"$BENCH/binsize.tsv"

# Image builds in a private dockerd (issue 25): not in the smoke run; BENCH_DOCKER=0 leaves them out.
DOCKER_ARGS=()
if [[ $SMOKE != 1 && ${BENCH_DOCKER:-1} == 1 ]]; then
  log "case docker: RUN slurm-installer against COPY --from, cold image builds (scripts/bench-docker.sh)"
  E2E_BUILD=$REPO/build/e2e SLURM_INSTALLER=$BIN bash "$E2E_SCRIPTS/bench-docker.sh" "$BENCH/docker.tsv"
  DOCKER_ARGS=(--docker "$BENCH/docker.tsv")
fi

LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
REPORT=("$PY" scripts/bench/report.py --samples "$SAMPLES" --out "$OUT" --date "$START"
  --load "$LOAD0 → $LOAD1" --sizes "${SIZES[*]}" --big-mb "$BIG_MB"
  --big-gz "$(stat -c %s "$BIGTGZ")" --big-unpacked "$BIG_UNPACKED"
  --bundle-gz "$BUNDLE_COMPRESSED_BYTES" --bundle-zst "$(stat -c %s "$ZTAR")" --version "$("$BIN" version 2>/dev/null | head -1)"
  --phases "$PHASES" --binsize "$BENCH/binsize.tsv"
  --notes scripts/bench/analysis.md "${DOCKER_ARGS[@]}")
"${REPORT[@]}"
# the same report again from these samples (after editing scripts/bench/analysis.md): bash build/bench/report.cmd
printf '%q ' "${REPORT[@]}" >"$BENCH/report.cmd"
log "wrote $OUT/BENCHMARKS.md and $OUT/bench-medians.svg"
