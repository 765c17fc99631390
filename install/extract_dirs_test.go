package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

// TestExtractManyDirectories: the extractor keeps parent directories open
// (at most maxDirHandles); past that it writes through the root by full
// path, and every entry lands where its name says either way.
func TestExtractManyDirectories(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	n := maxDirHandles * 2
	for i := range n {
		body := []byte(fmt.Sprintf("file %d\n", i))
		name := fmt.Sprintf("usr/local/slurm/lib/d%03d/sub/f.txt", i)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	p := filepath.Join(t.TempDir(), "many.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	entries, err := ExtractArchive(context.Background(), p, dir, Limits{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range entries {
		if e.Type == "file" {
			files++
		}
	}
	if files != n {
		t.Fatalf("%d files listed, want %d", files, n)
	}
	for _, i := range []int{0, maxDirHandles - 1, maxDirHandles, n - 1} {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("usr/local/slurm/lib/d%03d/sub/f.txt", i)))
		if err != nil || string(b) != fmt.Sprintf("file %d\n", i) {
			t.Fatalf("file %d: %q, %v", i, b, err)
		}
		fi, _ := os.Stat(filepath.Join(dir, fmt.Sprintf("usr/local/slurm/lib/d%03d/sub/f.txt", i)))
		if fi.Mode().Perm() != 0o444 {
			t.Fatalf("file %d mode %v, want 0444", i, fi.Mode().Perm())
		}
	}
}
