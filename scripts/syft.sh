#!/usr/bin/env bash
# syft.sh — build the Syft SBOM scanner from its Go module (once per version) for the e2e test that
# proves an installed root's SBOM is seen by a real image scanner (issue 27).
#
# Usage: scripts/syft.sh [TOOLSDIR]     prints the path of the binary
#   TOOLSDIR defaults to $SLURM_INSTALLER_TOOLS, else the machine's cache
#   (${XDG_CACHE_HOME:-~/.cache}/slurm-installer/tools), so a fresh clone on the same machine (CI)
#   does not build it again; the binary is cached as TOOLSDIR/syft-$SYFT_VERSION, so a second run
#   is a no-op. SYFT_VERSION (default v1.57.2) picks the release. The build is large
#   (~10 minutes on 2 cores, a few hundred MB of module cache); it uses the Go toolchain on PATH.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SYFT_VERSION=${SYFT_VERSION:-v1.57.2}
TOOLS=${1:-${SLURM_INSTALLER_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/slurm-installer/tools}}
mkdir -p "$TOOLS"
TOOLS=$(cd "$TOOLS" && pwd)
BIN=$TOOLS/syft-$SYFT_VERSION
if [[ -x $BIN ]] && "$BIN" version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || die "go is not on PATH"
log "building syft $SYFT_VERSION into $BIN (once; cached by version)"
TMP=$(mktemp -d "$TOOLS/.syft.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# CGO off like the project's own binary; GOFLAGS from the caller's environment are not wanted here.
GOFLAGS= CGO_ENABLED=0 GOBIN=$TMP go install -trimpath -ldflags "-s -w" \
  "github.com/anchore/syft/cmd/syft@$SYFT_VERSION" >&2
"$TMP/syft" version >/dev/null || die "the syft built from $SYFT_VERSION does not run"
mv "$TMP/syft" "$BIN"
echo "$BIN"
