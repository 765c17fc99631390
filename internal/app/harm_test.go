package app

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"slurm-installer/internal/failure"
)

// Issue 23 defect 3: a REGISTRY_AUTH_FILE that is a FIFO (or a link to
// /dev/zero) is refused at once as a usage error, before any lock is taken;
// it used to hang past --deadline with the lock held.
func TestRegistryAuthFileReadSafely(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "auth.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, "/dev/zero"} {
		t.Setenv(registryAuthFileEnv, p)
		done := make(chan error, 1)
		go func() { done <- checkRegistryAuthFile() }()
		select {
		case err := <-done:
			if failure.ClassOf(err) != failure.Usage {
				t.Errorf("%s: %v, want a usage error", p, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("reading %s as the registry auth file hangs", p)
		}
	}
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(registryAuthFileEnv, good)
	if err := checkRegistryAuthFile(); err != nil {
		t.Errorf("a regular auth file: %v", err)
	}
}
