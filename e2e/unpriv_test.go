//go:build e2e

package e2e

// Issue 14: a user that is not root installs into a --root it owns (image
// assembly without root). Where the kernel grants an unprivileged user
// namespace (Debian 12's does), the installer chroots through one for the
// root's ldconfig and the run check, so the client it reports works; where
// the namespace is refused, it says the commands could not start (exit 8
// under --fallback fail) instead of exit 0 with a client that cannot start.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const unprivUID = 65534 // nobody

// unprivRoot is a fresh glibc root owned by uid/gid 65534, with every
// directory above it traversable, and a copy of the installer it can run.
func unprivRoot(t *testing.T) (root, bin, home string) {
	t.Helper()
	root = newRoot(t, "glibc")
	if out, err := exec.Command("chown", "-R", "65534:65534", root).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	for d := filepath.Dir(root); d != "/" && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Dir(root)
	bin = filepath.Join(dir, "slurm-installer")
	if out, err := exec.Command("cp", suite.bin, bin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	home = filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, unprivUID, unprivUID); err != nil {
		t.Fatal(err)
	}
	return root, bin, home
}

// asNobody runs cmd as uid/gid 65534 with no supplementary groups and logs it.
func asNobody(t *testing.T, cmd *exec.Cmd, home string) run {
	t.Helper()
	cmd.Env = append(cleanEnv(), "SLURM_INSTALLER_LOG_FORMAT=console", "HOME="+home)
	cmd.Dir = home
	r := execute(t, cmd)
	t.Logf("$ %s   # as uid %d, exit %d, %s\n%s%s", strings.Join(cmd.Args, " "), unprivUID, r.code, r.took.Round(time.Millisecond), indent(r.stdout), indent(r.stderr))
	return r
}

func TestUnprivilegedInstall(t *testing.T) {
	need(t)
	t.Run("user namespace allowed", func(t *testing.T) {
		root, bin, home := unprivRoot(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// --log-level debug: the sandbox line is a debug line (issue 26).
		cmd := exec.CommandContext(ctx, bin, "install", "--root", root, "--mirrors", suite.full, "--fallback", "fail", "--log-level", "debug")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivUID, Gid: unprivUID, Groups: []uint32{}}}
		r := asNobody(t, cmd, home)
		wantExit(t, "install as uid 65534 into a root it owns", r, 0)
		for _, want := range []string{
			"ran the root's ldconfig in an unprivileged user namespace",
			"sandbox: user namespace (uid/gid 65534 inside are the caller's uid 65534/gid 65534, the only ids mapped)",
			"uid/gid 65534 (the caller's own ids, in its user namespace), no capabilities",
			"chroot",
			`sinfo --version ran in the target sinfo="slurm-wlm ` + suite.version + `"`,
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the install log should say %q:\n%s", want, r.stderr)
			}
		}
		for _, bad := range []string{"needs root", "ldconfig not run", "sinfo was not run"} {
			if strings.Contains(r.stderr, bad) {
				t.Errorf("the install log says %q although a user namespace was available:\n%s", bad, r.stderr)
			}
		}
		if fi, err := os.Stat(filepath.Join(root, "etc/ld.so.cache")); err != nil {
			t.Errorf("no loader cache: %v", err)
		} else if st := fi.Sys().(*syscall.Stat_t); st.Uid != unprivUID {
			t.Errorf("/etc/ld.so.cache is owned by uid %d, want %d (the caller)", st.Uid, unprivUID)
		}
		sinfoVersion(t, root) // the client works: chroot ROOT /usr/local/bin/sinfo --version
	})

	t.Run("user namespace refused", func(t *testing.T) {
		root, bin, home := unprivRoot(t)
		// A user namespace of our own (all ids mapped as they are) whose
		// limit of nested user namespaces is 0: inside it the kernel
		// refuses the installer's namespace (ENOSPC), as a host with
		// unprivileged user namespaces disabled does. The host's limit is
		// not touched.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c",
			`echo 0 >/proc/sys/user/max_user_namespaces && exec setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"`,
			"sh", bin, "install", "--root", root, "--mirrors", suite.full, "--fallback", "fail")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappingsEnableSetgroups: true}
		r := asNobody(t, cmd, home)
		wantExit(t, "install as uid 65534 with user namespaces refused", r, 8)
		for _, want := range []string{
			"the installed commands could not start here: they find their libraries in /usr/local/slurm/lib only through the root's loader cache, and ldconfig not run: entering the target root " + root + " needs chroot, which needs root or an unprivileged user namespace, and an unprivileged user namespace (for chroot) was refused",
			"exit=8",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the install log should say %q:\n%s", want, r.stderr)
			}
		}
		if strings.Contains(r.stderr, "SLURM client installed") {
			t.Errorf("the install claims a client it could not check:\n%s", r.stderr)
		}
		t.Logf("refusal, verbatim:\n%s", lastLine(r.stderr))
		for _, p := range []string{"usr/local/slurm", "usr/local/bin/sinfo", "etc/ld.so.conf.d/slurm.conf", "var/lib/slurm-installer/receipt.json"} {
			if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
				t.Errorf("the failed install left /%s", p)
			} else if !errors.Is(err, os.ErrNotExist) {
				t.Error(err)
			}
		}
	})
}
