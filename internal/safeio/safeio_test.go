package safeio

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

func TestRefusesFIFOAndDevices(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(fifo, 1<<20); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO hangs")
	}
	if _, err := ReadFile("/dev/zero", 1<<20); !errors.Is(err, ErrNotRegular) {
		t.Errorf("/dev/zero: %v", err)
	}
	if _, err := ReadFile(dir, 1<<20); !errors.Is(err, ErrNotRegular) {
		t.Errorf("dir: %v", err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 100), 0o644)
	if _, err := ReadFile(big, 99); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big: %v", err)
	}
	if b, err := ReadFile(big, 100); err != nil || len(b) != 100 {
		t.Errorf("%d %v", len(b), err)
	}
	r, _ := os.OpenRoot(dir)
	defer r.Close()
	if _, err := ReadFileIn(context.Background(), r, "../../etc/passwd", 1<<20); err == nil {
		t.Error("escaped the root")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, strings.NewReader("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// A reader that fails half-way leaves the old content and no temp file.
	if err := WriteFileAtomic(p, io.MultiReader(strings.NewReader("half"), iotest.ErrReader(errors.New("boom"))), 0o644); err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content after a failed write %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

// TestReadFileInRefusesHostileStateFiles: a state file planted in a root as
// a FIFO, a link (to /dev/zero, to another file) or a device is refused at
// once; a big one is refused at the cap; a cancelled run reads nothing.
func TestReadFileInRefusesHostileStateFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { _, err := ReadFileIn(ctx, r, "fifo", 1<<20); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO in a root hangs")
	}
	for _, n := range []string{"zero", "link", "."} {
		if _, err := ReadFileIn(ctx, r, n, 1<<20); !errors.Is(err, ErrNotRegular) {
			t.Errorf("%s: %v, want ErrNotRegular", n, err)
		}
	}
	if _, err := ReadFileIn(ctx, r, "big", 999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big: %v", err)
	}
	if b, err := ReadFileIn(ctx, r, "real", 1); err != nil || string(b) != "x" {
		t.Errorf("real: %q %v", b, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ReadFileIn(cctx, r, "real", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
