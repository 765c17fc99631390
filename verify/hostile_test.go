package verify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rt "slurm-installer/internal/testkit/rootfstest"
	"slurm-installer/internal/testkit/testbundle"
)

// TestHostileBundle (issue 12 item 11, issue 23 item 5): a bundle that
// passed its checksum ships a sinfo that tries to write on the host and in
// the root (its /tmp and /dev/shm tmpfs, a cache directory bound in), read
// the root's /etc/shadow and, through the root's /proc, the command lines
// of the installer and every other process (a decoy holds a secret), and
// leave a process running. The verification runs (RunVersion, Cluster)
// must contain all of it: nothing it writes outlives the run.
func TestHostileBundle(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "host"), 0o777); err != nil {
		t.Fatal(err)
	}
	hostFile := filepath.Join(dir, "host", "pwned")
	token := fmt.Sprintf("verify%d", time.Now().UnixNano())
	writes := []string{"/dev/shm/pwned-in-root", "/var/cache/pwned-in-root"} // and /tmp/pwned-in-root
	bin, err := testbundle.BuildHostile(dir, testbundle.Hostile{Version: "24.11.5", HostFile: hostFile, Token: token,
		Secret: "secret-" + token, Writes: writes})
	if err != nil {
		t.Fatal(err)
	}
	decoy := exec.Command("/bin/sh", "-c", "sleep 120; :", "mirror-password=secret-"+token)
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = decoy.Process.Kill(); _ = decoy.Wait() }()
	root := runRoot(t, bin, false)
	cache := t.TempDir()
	os.Chmod(cache, 0o777)
	for _, m := range []struct{ src, dir, fstype, data string }{
		{"proc", "proc", "proc", ""}, {"tmpfs", "tmp", "tmpfs", "mode=1777,size=1m"}, {"tmpfs", "dev/shm", "tmpfs", "mode=1777,size=1m"}, {cache, "var/cache", "", ""},
	} {
		d := filepath.Join(root, m.dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		flags := uintptr(0)
		if m.fstype == "" {
			flags = syscall.MS_BIND
		}
		if err := syscall.Mount(m.src, d, m.fstype, flags, m.data); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(d, syscall.MNT_DETACH) })
	}
	rt.WriteFile(t, root, "/etc/shadow", "root:SECRET-HASH:19000:0:99999:7:::\n")
	os.Chmod(filepath.Join(root, "etc/shadow"), 0o640)
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)

	check := func(what string) {
		t.Helper()
		paths := []string{hostFile, hostFile + ".survivor", filepath.Join(root, hostFile), filepath.Join(root, "etc/pwned-in-root"), filepath.Join(root, "tmp/pwned-in-root")}
		for _, w := range writes {
			paths = append(paths, filepath.Join(root, w))
		}
		for _, p := range paths {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s: the bundle's sinfo wrote %s", what, p)
			}
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Contains(b, []byte("sleeper-"+token)) {
				t.Errorf("%s: a process the bundle started survived the run: pid %s", what, e.Name())
			}
		}
	}
	res, err := RunVersion(context.Background(), RunInput{RootDir: root, Chroot: true, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("RunVersion: %v", err) // "BREACH: ..." when the sinfo got out
	}
	if res.Version != "24.11.5" {
		t.Errorf("RunVersion = %+v", res)
	}
	for _, want := range []string{"uid/gid 65534", "no capabilities", "no_new_privs", "pid namespace", "network namespace", "chroot",
		"every mount under it read-only", "a fresh, read-only /proc", "killed with the installer"} {
		if !strings.Contains(res.Sandbox, want) {
			t.Errorf("RunResult.Sandbox %q does not say %q", res.Sandbox, want)
		}
	}
	t.Log(res.Sandbox)
	check("sinfo --version")

	rt.WriteFile(t, root, "/etc/slurm/slurm.conf", "ClusterName=c\nSlurmctldHost=up\nPluginDir="+prefix+"/lib/slurm\n")
	nodes, err := Cluster(context.Background(), RunInput{RootDir: root, Chroot: true, Timeout: 20 * time.Second})
	if err != nil || !strings.HasPrefix(nodes, "NODELIST STATE") {
		t.Errorf("Cluster = %q, %v", nodes, err)
	}
	check("verify --cluster")
}
