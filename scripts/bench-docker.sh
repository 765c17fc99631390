#!/usr/bin/env bash
# bench-docker.sh — image builds: `RUN slurm-installer` against `COPY --from` a client image (issue 25).
#
# Usage: scripts/bench-docker.sh [OUT.tsv]    (as root; default build/bench/docker.tsv;
#                                             scripts/bench.sh runs it for `make bench`)
#   BENCH_DOCKER_RUNS=5   recorded rounds (each round builds every case once, interleaved)
#   E2E_BUILD, SLURM_INSTALLER as for scripts/e2e-docker.sh
#
# Runs TestDockerBench (e2e/dockerbench_test.go) through scripts/e2e-docker.sh, so it gets the same
# private offline dockerd, the same base images and the same EXIT-trap safety net (no dockerd, no
# containerd, no mounts left). The test writes the samples to OUT.tsv: `# key=value` lines, then
# case, builder, run, seconds, bytes; scripts/bench/report.py --docker OUT.tsv renders them.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

OUT=${1:-$E2E_TOP/build/bench/docker.tsv}
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
rm -f "$OUT"
SECONDS=0
BENCH_DOCKER_OUT=$OUT bash "$E2E_SCRIPTS/e2e-docker.sh" -test.run '^TestDockerBench$' -test.timeout 40m
[[ -s $OUT ]] || die "TestDockerBench passed but wrote no $OUT"
log "wrote $OUT in ${SECONDS} s"
