package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"slurm-installer/internal/testkit/testbundle"
)

// BenchmarkRun times one verification run (`sinfo --version` of a fake
// static sinfo) through the whole sandbox: the helper's re-exec, its
// namespaces, the sealing of the root and the drop. "image" is a root
// directory with no mounts of its own; "live" has /proc and a tmpfs /tmp
// mounted, as --root / in a container has.
func BenchmarkRun(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("the sandbox needs root")
	}
	bin, err := testbundle.FakeSinfo("24.11.5")
	if err != nil {
		b.Fatal(err)
	}
	sinfo, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	for _, live := range []bool{false, true} {
		name := map[bool]string{false: "image", true: "live"}[live]
		b.Run(name, func(b *testing.B) {
			root := filepath.Join(b.TempDir(), "root")
			for _, d := range []string{"usr/local/bin", "etc/slurm", "proc", "tmp"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "usr/local/bin/sinfo"), sinfo, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "etc/slurm/slurm.conf"), []byte("ClusterName=bench\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			if live {
				for _, m := range [][2]string{{"proc", "proc"}, {"tmpfs", "tmp"}} {
					dir := filepath.Join(root, m[1])
					if err := syscall.Mount(m[0], dir, m[0], 0, ""); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
				}
			}
			once := func() {
				var out, errb bytes.Buffer
				_, err := Run(context.Background(), Spec{Root: root, Path: "/usr/local/bin/sinfo", Args: []string{"sinfo", "--version"},
					Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, Timeout: 20 * time.Second, Stdout: &out, Stderr: &errb})
				if err != nil || strings.TrimSpace(out.String()) != "slurm 24.11.5" {
					b.Fatalf("run: %v, stdout %q, stderr %q", err, out.String(), errb.String())
				}
			}
			once() // the namespace probe runs once per process
			for b.Loop() {
				once()
			}
		})
	}
}
