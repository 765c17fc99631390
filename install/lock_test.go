package install

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/internal/failure"
)

func openT(t *testing.T) *Installer {
	t.Helper()
	in, err := Open(Options{RootDir: t.TempDir(), Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func TestLockSerializesAndNamesHolder(t *testing.T) {
	in := openT(t)
	unlock, err := in.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description on the same lock file contends like another process.
	in2, _ := Open(in.opt)
	defer in2.Close()
	start := time.Now()
	_, err = in2.Lock(context.Background(), 300*time.Millisecond)
	if failure.ClassOf(err) != failure.Locked {
		t.Fatalf("want class locked, got %v", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("message does not name the holder: %v", err)
	}
	if !errors.Is(err, errLocked) || !slices.Contains(failure.Steps(err), failure.RaiseLockTimeout) {
		t.Errorf("lock timeout %v: not errLocked, or steps %v lack RaiseLockTimeout", err, failure.Steps(err))
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("waited %v for a 300ms lock timeout", d)
	}
	unlock()
	unlock2, err := in2.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	unlock2()
}

// A lock held by a process that died never blocks: flock dies with it.
func TestLockOfDeadProcessDoesNotBlock(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) from util-linux is not installed")
	}
	in := openT(t)
	os.MkdirAll(in.HostPath(stateDir), 0o755)
	lock := in.HostPath(stateDir + "/lock")
	cmd := exec.Command("flock", lock, "sh", "-c", "echo $$ > "+lock+"; kill -9 $$")
	_ = cmd.Run()
	unlock, err := in.Lock(context.Background(), 200*time.Millisecond)
	if err != nil {
		t.Fatalf("a dead holder blocked the lock: %v", err)
	}
	unlock()
}

// A run cancelled (a signal) while it waits for the lock is not "locked"
// (exit 9): its error is the cancellation, which the CLI turns into 130/143.
func TestLockWaitCancelled(t *testing.T) {
	in := openT(t)
	unlock, err := in.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	in2, _ := Open(in.opt)
	defer in2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err = in2.Lock(ctx, time.Minute)
	if !errors.Is(err, context.Canceled) || failure.ClassOf(err) == failure.Locked {
		t.Fatalf("want a cancellation, not class locked: %v (class %v)", err, failure.ClassOf(err))
	}
}
