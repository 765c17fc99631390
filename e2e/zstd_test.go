//go:build e2e

package e2e

// zstd bundles end to end (issue 25): the real payload packed with
// `pack --compress zstd`, installed from a file:// index mirror and from a
// real registry; sinfo runs in each root.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slurm-installer/internal/testkit/registrytest"
)

func TestZstdRealBundle(t *testing.T) {
	need(t)
	from := payloadDir(t)
	hub := t.TempDir()
	ociRun(t, nil, 0, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", hub, "--compress", "zstd")
	zst := filepath.Join(hub, "pkgs/slurm-apk/slurm-client-"+suite.version+"-"+suite.arch+"-alpine.tar.zst")
	gz := strings.TrimSuffix(zst, ".tar.zst") + ".tar.gz"
	zi, err1 := os.Stat(zst)
	gi, err2 := os.Stat(gz)
	if err1 != nil || err2 != nil {
		t.Fatalf("pack --compress zstd wrote %v / %v", err1, err2)
	}
	t.Logf("real bundle: zstd %d bytes, gzip %d bytes (%.2fx)", zi.Size(), gi.Size(), float64(zi.Size())/float64(gi.Size()))

	root := newRoot(t, "glibc")
	ociRun(t, nil, 0, "--root", root, "--mirrors", "file://"+hub, "--slurm-version", suite.version, "--fallback", "fail")
	if rc := readReceipt(t, root); !strings.HasSuffix(rc.Source, ".tar.zst") || rc.Verification != "index" {
		t.Fatalf("receipt: source %q verification %q, want the .tar.zst verified by the index", rc.Source, rc.Verification)
	}
	sinfoVersion(t, root)

	reg := registrytest.Start(t, nil)
	mirror := reg.Ref("hpc/slurm-zstd")
	ociRun(t, nil, 0, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", mirror, "--compress", "zstd")
	root = newRoot(t, "glibc")
	ociRun(t, nil, 0, "--root", root, "--mirrors", mirror, "--slurm-version", suite.version, "--fallback", "fail")
	ociReceipt(t, root, mirror)
	sinfoVersion(t, root)
}
