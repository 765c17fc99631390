package verify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rt "slurm-installer/internal/testkit/rootfstest"
	"slurm-installer/internal/testkit/testbundle"
)

// TestHostileBundle (issue 12 item 11): a bundle that passed its checksum
// ships a sinfo that tries to write on the host and in the root, read the
// root's /etc/shadow and leave a process running. The verification runs
// (RunVersion, Cluster) must contain all of it.
func TestHostileBundle(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "host"), 0o777); err != nil {
		t.Fatal(err)
	}
	hostFile := filepath.Join(dir, "host", "pwned")
	token := fmt.Sprintf("verify%d", time.Now().UnixNano())
	bin, err := testbundle.BuildHostile(dir, testbundle.Hostile{Version: "24.11.5", HostFile: hostFile, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	root := runRoot(t, bin, false)
	rt.WriteFile(t, root, "/etc/shadow", "root:SECRET-HASH:19000:0:99999:7:::\n")
	os.Chmod(filepath.Join(root, "etc/shadow"), 0o640)
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)

	check := func(what string) {
		t.Helper()
		for _, p := range []string{hostFile, hostFile + ".survivor", filepath.Join(root, hostFile), filepath.Join(root, "tmp/pwned-in-root"), filepath.Join(root, "etc/pwned-in-root")} {
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
	for _, want := range []string{"uid/gid 65534", "no capabilities", "no_new_privs", "pid namespace", "network namespace", "chroot"} {
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
