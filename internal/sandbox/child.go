package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaybeChild turns this process into the sandbox helper when it was
// started as one by [Run], and never returns then; otherwise it returns at
// once. Call it first thing in main (and in TestMain of tests that use the
// sandbox).
func MaybeChild() {
	v, ok := os.LookupEnv(envMarker)
	if !ok {
		return
	}
	// no_new_privs and the bounding set are per thread: set them on the
	// thread that will exec.
	runtime.LockOSThread()
	status := os.NewFile(3, "sandbox-status")
	code := child(v, status)
	os.Exit(code)
}

func child(encoded string, status *os.File) int {
	say := func(kind byte, msg string) {
		if status != nil {
			fmt.Fprintf(status, "%c%s\n", kind, strings.ReplaceAll(msg, "\n", " "))
		}
	}
	fail := func(format string, args ...any) int {
		say('E', fmt.Sprintf(format, args...))
		return 125
	}
	b, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return fail("decode the sandbox spec: %v", err)
	}
	var cs childSpec
	if err := json.Unmarshal(b, &cs); err != nil {
		return fail("decode the sandbox spec: %v", err)
	}
	if cs.Probe {
		if cs.UserNS {
			// A user namespace some kernels grant without the capabilities
			// it should carry (an LSM policy): prove chroot works in it.
			if err := syscall.Chroot("/"); err != nil {
				return 1
			}
		}
		return 0
	}
	syscall.CloseOnExec(3)
	lastCap := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			lastCap = n
		}
	}
	if cs.Mount {
		// Nothing done here may reach the host's mounts.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fail("make the mount namespace private: %v", err)
		}
		if err := readOnly(cs.Root); err != nil {
			say('W', "read-only root: "+err.Error())
		} else {
			say('I', "root mounted read-only, nosuid, nodev")
		}
		if cs.Proc {
			p := strings.TrimSuffix(cs.Root, "/") + "/proc"
			if err := unix.Mount("proc", p, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				say('W', "a /proc of its own: "+err.Error())
			} else {
				say('I', "a /proc of its own pid namespace")
			}
		}
	}
	if cs.Root != "/" {
		if err := syscall.Chroot(cs.Root); err != nil {
			return fail("chroot %s: %v", cs.Root, err)
		}
		say('I', "chroot")
	}
	dir := cs.Dir
	if dir == "" {
		dir = "/"
	}
	if err := syscall.Chdir(dir); err != nil {
		return fail("chdir %s: %v", dir, err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail("set no_new_privs: %v", err)
	}
	if cs.Drop {
		if err := dropPrivileges(lastCap, cs.UserNS); err != nil {
			return fail("%v", err)
		}
	} else {
		_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	}
	if err := checkDropped(cs.Drop, cs.UserNS, lastCap); err != nil {
		return fail("refusing to run %s: %v", cs.Path, err)
	}
	if cs.Drop {
		if cs.UserNS {
			say('I', fmt.Sprintf("uid/gid %d (the caller's own ids, in its user namespace)", Nobody))
		} else {
			say('I', fmt.Sprintf("uid/gid %d, no supplementary groups", Nobody))
		}
		say('I', "no capabilities (bounding, ambient, inheritable, permitted, effective all empty)")
	}
	say('I', "no_new_privs")
	say('R', "")
	err = syscall.Exec(cs.Path, cs.Args, cs.Env)
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = syscall.EINVAL
	}
	say('X', strconv.Itoa(int(errno)))
	if errno == syscall.ENOENT {
		return 127
	}
	return 126
}

// readOnly bind-mounts root onto itself and remounts it read-only, so the
// command cannot write into the root either (even where 65534 could:
// /tmp).
func readOnly(root string) error {
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", root, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", root, "", flags, ""); err != nil {
		// A mount with locked flags (noexec, ...) must keep them.
		var st unix.Statfs_t
		if unix.Statfs(root, &st) == nil {
			for _, m := range [][2]int64{{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
				{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME}} {
				if st.Flags&m[0] != 0 {
					flags |= uintptr(m[1])
				}
			}
			if err2 := unix.Mount("", root, "", flags, ""); err2 == nil {
				return nil
			}
		}
		return fmt.Errorf("remount %s read-only: %w", root, err)
	}
	return nil
}

// dropPrivileges empties the bounding set, clears ambient capabilities,
// switches to Nobody and clears what capabilities remain.
func dropPrivileges(lastCap int, userNS bool) error {
	for c := 0; c <= lastCap; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	// In an unprivileged user namespace setgroups is denied (the caller's
	// groups stay, as the overflow gid, and grant nothing it lacks).
	if err := syscall.Setgroups([]int{}); err != nil && !userNS {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(Nobody, Nobody, Nobody); err != nil {
		return fmt.Errorf("setresgid %d: %w", Nobody, err)
	}
	if err := syscall.Setresuid(Nobody, Nobody, Nobody); err != nil {
		return fmt.Errorf("setresuid %d: %w", Nobody, err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear capabilities: %w", err)
	}
	return nil
}

// checkDropped proves the drop: no capability in any set, no_new_privs
// on, and (when dropped) every id 65534.
func checkDropped(dropped, userNS bool, lastCap int) error {
	if v, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err != nil || v != 1 {
		return fmt.Errorf("no_new_privs is not set (%d, %v)", v, err)
	}
	if !dropped {
		return nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	for _, d := range data {
		if d.Effective|d.Permitted|d.Inheritable != 0 {
			return fmt.Errorf("capabilities remain: %+v", data)
		}
	}
	for c := 0; c <= lastCap; c++ {
		if v, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && v != 0 {
			return fmt.Errorf("capability %d is still in the bounding set", c)
		}
		if v, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(c), 0, 0); err == nil && v != 0 {
			return fmt.Errorf("capability %d is still ambient", c)
		}
	}
	r, e, s := unix.Getresuid()
	if r != Nobody || e != Nobody || s != Nobody {
		return fmt.Errorf("uids are %d/%d/%d", r, e, s)
	}
	r, e, s = unix.Getresgid()
	if r != Nobody || e != Nobody || s != Nobody {
		return fmt.Errorf("gids are %d/%d/%d", r, e, s)
	}
	if g, err := syscall.Getgroups(); err != nil || len(g) != 0 && !(userNS && allOverflow(g)) {
		return fmt.Errorf("supplementary groups remain: %v", g)
	}
	return nil
}

// allOverflow: every group is the overflow gid, which is what an unmapped
// group of the caller looks like inside its user namespace.
func allOverflow(groups []int) bool {
	for _, g := range groups {
		if g != Nobody {
			return false
		}
	}
	return true
}
