package pack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"slurm-installer/install"
)

// TestPackKeepsConnectPieces (issue 24): what a client host needs to reach
// its cluster — sackd (auth/slurm, configless cache) and the auth_*/cred_*
// plugins — is packed as the payload has it, and the installer's extractor
// takes it.
func TestPackKeepsConnectPieces(t *testing.T) {
	src := payload(t)
	if err := os.MkdirAll(filepath.Join(src, "sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"sbin/sackd": true, "lib/slurm/auth_slurm.so": true, "lib/slurm/auth_munge.so": true,
		"lib/slurm/cred_munge.so": true, "lib/slurm/cred_slurm.so": true}
	for p := range want {
		mode := os.FileMode(0o644)
		if p == "sbin/sackd" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(p), mode); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	es, err := install.ExtractArchive(context.Background(), r.Tarball, t.TempDir(), install.Limits{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		rel, ok := strings.CutPrefix(e.Path, "usr/local/slurm/")
		if ok && want[rel] {
			if rel == "sbin/sackd" && e.Mode&0o111 == 0 {
				t.Errorf("sackd lost its exec bits: %v", e.Mode)
			}
			delete(want, rel)
		}
	}
	if len(want) > 0 {
		t.Fatalf("pack dropped %v", want)
	}
}
