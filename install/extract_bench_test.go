package install

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

// BenchmarkExtractRealBundle extracts the real SLURM bundle built by
// scripts/build-bundle.sh (skipped when it has not been built).
func BenchmarkExtractRealBundle(b *testing.B) {
	src, _ := filepath.Abs("../build/e2e/bundle/apphub/pkgs/slurm-apk/slurm-client-22.05.8-x86_64-alpine.tar.gz")
	fi, err := os.Stat(src)
	if err != nil {
		b.Skip("no real bundle: run scripts/build-bundle.sh first")
	}
	b.SetBytes(fi.Size())
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if _, err := ExtractArchive(context.Background(), src, dir, Limits{}, zerolog.Nop()); err != nil {
			b.Fatal(err)
		}
	}
}
