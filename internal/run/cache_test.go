package run

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"slurm-installer/internal/bundle"
)

// The cache directory is a shared mount, not the installer's alone: what
// its .origin file says verified the bytes is read back only when it is a
// value of the bundle contract; anything else vouches for nothing
// (issue 22: a value one part writes is one every other part reads).
func TestCacheOriginVerification(t *testing.T) {
	dir := t.TempDir()
	data := []byte("a cached bundle")
	s := sha256.Sum256(data)
	sha := hex.EncodeToString(s[:])
	name := filepath.Join(dir, sha+"-slurm-client-22.05.8-x86_64-alpine.tar.gz")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cache{dir: dir, log: zerolog.Nop()}
	for origin, want := range map[string]bundle.Verification{
		`{"origin":"http://a/x.tar.gz","verification":"layer-digest"}`: bundle.LayerDigest,
		`{"origin":"http://a/x.tar.gz","verification":"sidecar"}`:      bundle.Sidecar,
		`{"origin":"http://a/x.tar.gz","verification":"trust-me"}`:     bundle.None,
		`{"origin":"http://a/x.tar.gz"}`:                               bundle.None,
	} {
		if err := os.WriteFile(name+".origin", []byte(origin), 0o644); err != nil {
			t.Fatal(err)
		}
		art := c.lookup(sha, "x86_64", "22.05.8")
		if art == nil || art.Verification != want || art.Layout != bundle.LayoutCache {
			t.Errorf("%s: lookup = %+v, want verification %q", origin, art, want)
		}
	}
	if art := c.lookup("../../etc/"+sha[:10], "x86_64", "22.05.8"); art != nil {
		t.Errorf("a digest that is not one was looked up: %+v", art)
	}
}
