package connect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slurm-installer/internal/failure"
)

// packstr is SLURM's packed string: a 32-bit big-endian length that counts
// a final NUL, then the bytes and the NUL.
func packstr(s string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(s)+1))
	return append(append(b, s...), 0)
}

// answer is a RESPONSE_CONFIG as 21.08+ packs it: a header and credential
// (noise here), then per file a flag, its name and its content.
func answer(files ...[2]string) []byte {
	b := []byte{0, 0, 0, 0x40, 0x26, 0x00, 0x00, 0x07, 0x3e, 0x9a}
	b = append(b, packstr("munge-credential:MUNGE:AwQFAAB")...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(files)))
	for _, f := range files {
		b = append(b, 1)
		b = append(b, packstr(f[0])...)
		b = append(b, packstr(f[1])...)
	}
	return append(b, packstr("/var/spool/slurmd")...)
}

func TestConfFromAnswer(t *testing.T) {
	conf := "ClusterName=c\nSlurmctldHost=ctl(10.0.0.1)\nPluginDir=/usr/lib/x86_64-linux-gnu/slurm-wlm\n"
	got, files, err := confFromAnswer([][]byte{nil, answer([2]string{"plugstack.conf", "include /etc/slurm/plugstack.conf.d/*\n"}, [2]string{"slurm.conf", conf})})
	if err != nil || string(got) != conf {
		t.Fatalf("confFromAnswer = %q, %v; want %q", got, err, conf)
	}
	if files["plugstack.conf"] == nil {
		t.Errorf("the other files: %v", files)
	}
	// A cut answer, a length past the end, no slurm.conf: nothing.
	a := answer([2]string{"slurm.conf", conf})
	for _, bad := range [][]byte{a[:len(a)-len(conf)], answer([2]string{"cgroup.conf", "x"}), {0, 0, 0, 11}} {
		if _, _, err := confFromAnswer([][]byte{bad}); !errors.Is(err, errNoConf) {
			t.Errorf("confFromAnswer(%q) = %v, want errNoConf", bad, err)
		}
	}
}

// TestRelayCapturesTheAnswer: what a server answers through the relay is
// what the client reads and what the relay keeps; found closes once it
// holds a slurm.conf. The server is a plain TCP listener on loopback.
func TestRelayCapturesTheAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := answer([2]string{"slurm.conf", "ClusterName=c\n"})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 5)
		_, _ = io.ReadFull(c, buf)
		_, _ = c.Write(want)
		c.Close()
	}()
	rl, err := newRelay(ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rl.addr(), "127.0.0.1:") {
		t.Fatalf("the relay listens on %s, not on loopback", rl.addr())
	}
	c, err := net.Dial("tcp", rl.addr())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("hello"))
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the client read %q, %v", got, err)
	}
	select {
	case <-rl.found:
	case <-time.After(10 * time.Second):
		t.Fatal("found did not close")
	}
	if conf, _, err := confFromAnswer(rl.close()); err != nil || string(conf) != "ClusterName=c\n" {
		t.Fatalf("kept %q, %v", conf, err)
	}
}

func TestAdapt(t *testing.T) {
	in := "ClusterName=c\nAuthType=auth/munge\nAuthInfo=socket=/var/run/munge/site.sock,ttl=60 # theirs\nPluginDir=/usr/lib64/slurm\nNodeName=n1 CPUs=2\n"
	out := string(adapt([]byte(in), "/usr/local/slurm", MungeSocket, "ctl:6817", "configless"))
	for _, want := range []string{"\nPluginDir=/usr/local/slurm/lib/slurm\n", "\nAuthInfo=socket=/run/munge/munge.socket.2,ttl=60\n", "\nNodeName=n1 CPUs=2\n", "# the cluster's: PluginDir=/usr/lib64/slurm\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("adapt lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\nPluginDir=") != 1 {
		t.Errorf("one PluginDir line, please:\n%s", out)
	}
	// No PluginDir: the compiled-in one is not in the container; add ours.
	out = string(adapt([]byte("ClusterName=c\n"), "/opt/slurm", "", "ctl:6817", "configless"))
	if !strings.HasSuffix(out, "\nPluginDir=/opt/slurm/lib/slurm\n") {
		t.Errorf("adapt should add PluginDir:\n%s", out)
	}
}

func TestAddress(t *testing.T) {
	for in, want := range map[string]string{"ctl": "ctl:6817", "ctl:7000": "ctl:7000", "10.1.2.3": "10.1.2.3:6817", "[fd00::1]:6817": "[fd00::1]:6817", " ctl ": "ctl:6817"} {
		if got, err := Address(in); err != nil || got != want {
			t.Errorf("Address(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a b", "http://ctl/"} {
		if _, err := Address(bad); failure.ClassOf(err) != failure.Usage {
			t.Errorf("Address(%q): %v, want a usage error", bad, err)
		}
	}
}

// TestReachNamesTheAddress: nothing listening is the first missing piece,
// class verification, with the controller step.
func TestReachNamesTheAddress(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	root := t.TempDir()
	res, err := Connect(context.Background(), Options{RootDir: root, Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin", Controller: dead}, true)
	if failure.ClassOf(err) != failure.Verify || !strings.Contains(err.Error(), "cannot reach the controller at "+dead) {
		t.Fatalf("Connect to nothing: %v", err)
	}
	if len(res.Checks) != 1 || res.Checks[0].Name != StepReach || res.Checks[0].OK {
		t.Errorf("checks: %+v", res.Checks)
	}
	if got := failure.Steps(err); len(got) != 1 || got[0] != failure.CheckController {
		t.Errorf("remedies %v", got)
	}
	rec, err := Peek(root)
	if err != nil || rec == nil || rec.Connected || rec.Controller != dead {
		t.Fatalf("record %+v, %v", rec, err)
	}
}

// TestUndo: uninstall's part takes out connect's unchanged slurm.conf and
// its links, puts back a backup, keeps a changed file; a planted record
// naming other paths is refused.
func TestUndo(t *testing.T) {
	root := t.TempDir()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	conf := []byte("ClusterName=c\n")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc/slurm"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc/slurm/slurm.conf"), conf, 0o644))
	must(os.WriteFile(filepath.Join(root, "etc/slurm/.slurm-installer-backup.0123abcd.slurm.conf"), []byte("site\n"), 0o644))
	must(os.Symlink("/usr/local/slurm/lib/slurm", filepath.Join(root, "usr/lib/slurm-wlm")))
	must(writeRecord(r, &Record{Controller: "c:6817", Files: []File{{Path: SiteConf, SHA256: sum(conf), Backup: "/etc/slurm/.slurm-installer-backup.0123abcd.slurm.conf"}},
		Links: []Link{{Path: "/usr/lib/slurm-wlm", Target: "/usr/local/slurm/lib/slurm"}}}))
	notes, err := Undo(root)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/slurm/slurm.conf")); string(b) != "site\n" {
		t.Errorf("the site's slurm.conf is not back: %q (%v)", b, notes)
	}
	for _, p := range []string{"usr/lib/slurm-wlm", "var/lib/slurm-installer/connect.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("Undo left %s", p)
		}
	}
	// Changed after connect wrote it: kept.
	must(os.WriteFile(filepath.Join(root, "etc/slurm/slurm.conf"), []byte("edited\n"), 0o644))
	must(writeRecord(r, &Record{Files: []File{{Path: SiteConf, SHA256: sum(conf)}}}))
	if _, err := Undo(root); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/slurm/slurm.conf")); string(b) != "edited\n" {
		t.Errorf("Undo removed a changed file")
	}
	// A planted record naming /etc/passwd: refused, nothing touched.
	must(writeRecord(r, &Record{Files: []File{{Path: "/etc/passwd", SHA256: strings.Repeat("0", 64)}}}))
	if _, err := Undo(root); failure.ClassOf(err) != failure.FileSystem {
		t.Errorf("a record naming /etc/passwd: %v, want a file-system refusal", err)
	}
	must(writeRecord(r, &Record{Links: []Link{{Path: "/etc/slurm", Target: "/x"}}}))
	if _, err := Undo(root); failure.ClassOf(err) != failure.FileSystem {
		t.Errorf("a record naming the link /etc/slurm: %v, want a file-system refusal", err)
	}
}
