package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaybeChild turns this process into the sandbox helper when it was
// started as one by [Run], and never returns then; otherwise it returns at
// once. Call it first thing in main (and in TestMain of tests that use the
// sandbox).
//
// Only [Run] makes a helper: its argv is exactly (argv0, childFlag) and it
// inherits two pipes, fd 3 carrying the spec and fd 4 the status. No
// environment variable is looked at, so an environment cannot switch a
// run into helper mode or hand it a spec.
func MaybeChild() {
	if len(os.Args) != 2 || os.Args[1] != childFlag {
		return
	}
	// no_new_privs and the bounding set are per thread: set them on the
	// thread that will exec.
	runtime.LockOSThread()
	spec, status, err := helperFiles()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", childFlag, err)
		os.Exit(125)
	}
	os.Exit(child(spec, status))
}

// helperFiles checks that fds 3 and 4 are the pipes [Run] passes and reads
// the spec from fd 3 (bounded).
func helperFiles() ([]byte, *os.File, error) {
	for _, fd := range []int{specFD, statusFD} {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return nil, nil, fmt.Errorf("fd %d is not the pipe the sandbox passes its helper (this flag is internal)", fd)
		}
	}
	specFile := os.NewFile(specFD, "sandbox-spec")
	b, err := io.ReadAll(io.LimitReader(specFile, maxSpec+1))
	specFile.Close()
	if err != nil || len(b) > maxSpec {
		return nil, nil, fmt.Errorf("read the spec: %v (%d bytes)", err, len(b))
	}
	syscall.CloseOnExec(statusFD)
	return b, os.NewFile(statusFD, "sandbox-status"), nil
}

func child(b []byte, status *os.File) int {
	statusOK := true
	say := func(kind byte, msg string) {
		if status != nil {
			if _, err := fmt.Fprintf(status, "%c%s\n", kind, strings.ReplaceAll(msg, "\n", " ")); err != nil {
				statusOK = false
			}
		}
	}
	fail := func(format string, args ...any) int {
		say('E', fmt.Sprintf(format, args...))
		return 125
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
	lastCap := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			lastCap = n
		}
	}
	chrooted := false
	if cs.Mount {
		var err error
		if chrooted, err = seal(cs, say); err != nil {
			return fail("%v", err)
		}
	}
	if cs.Root != "/" && !chrooted {
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
	// A change of credentials clears the parent-death signal: set it now,
	// after the drop, then make sure the installer did not die before.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fail("set the parent-death signal: %v", err)
	}
	if !cs.PIDNS && os.Getppid() != cs.Parent {
		return fail("the installer (pid %d) is gone", cs.Parent)
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
	say('I', "killed with the installer")
	say('R', "")
	if !statusOK {
		return 125 // the installer is gone (its end of the status pipe closed)
	}
	err := syscall.Exec(cs.Path, cs.Args, cs.Env)
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

// seal makes what the command will see of the root read-only at every
// level, in the helper's own mount namespace: every mount under the root
// read-only and nosuid (the root itself also nodev), a fresh /proc of the
// pid namespace over the root's /proc (an empty read-only one without a
// pid namespace, and over any other proc mount in the root), so no
// process outside the sandbox is visible and nothing the command writes
// outlives it. Inside a chroot, where / is not a mount point and so cannot
// be made private, the root alone is cloned into a detached, private,
// read-only mount and entered (chrooted is then true): none of its
// submounts is visible.
func seal(cs childSpec, say func(byte, string)) (chrooted bool, err error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		if !errors.Is(err, unix.EINVAL) {
			return false, fmt.Errorf("make the mount namespace private: %w", err)
		}
		// EINVAL: / is not a mount point, so this process runs in a chroot.
		if err := detachedRoot(cs.Root); err != nil {
			return false, fmt.Errorf("this process runs in a chroot (/ is not a mount point), where the sandbox must clone the root into a detached read-only mount, and the kernel refused: %w", err)
		}
		say('I', "root mounted read-only, nosuid, nodev, alone (this runs in a chroot: a detached private copy of the root's own mount, none of its submounts visible, so no /proc)")
		return true, nil
	}
	root := cs.Root
	if root != "/" {
		if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return false, fmt.Errorf("bind %s: %w", root, err)
		}
	}
	if err := readOnlyTree(root, cs.Remount); err != nil {
		return false, err
	}
	say('I', "root mounted read-only, nosuid, nodev, with every mount under it read-only and nosuid")
	procDir := filepath.Join(root, "proc")
	// Any other proc mount in the root shows the host's processes too.
	if ms, err := mounts(); err == nil {
		for _, m := range ms {
			if m.fstype == "proc" && m.point != procDir && under(m.point, root) {
				if err := hide(m.point); err != nil {
					return false, fmt.Errorf("hide the proc mount %s: %w", m.point, err)
				}
			}
		}
	} else {
		say('W', "other proc mounts in the root: cannot list the mounts: "+err.Error())
	}
	if fi, err := os.Lstat(procDir); err == nil && fi.IsDir() {
		var perr error = errors.New("no pid namespace")
		if cs.PIDNS {
			if perr = unix.Mount("proc", procDir, "proc", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); perr == nil {
				say('I', "a fresh, read-only /proc showing only the sandbox's processes")
			}
		}
		if perr != nil {
			if err := hide(procDir); err != nil {
				return false, fmt.Errorf("/proc: a fresh one (%v) nor an empty one (%w) could be mounted", perr, err)
			}
			say('I', "an empty /proc (a fresh one: "+perr.Error()+")")
		}
	}
	return false, nil
}

// detachedRoot clones the mount holding root (not its submounts) into a
// detached mount, makes it private, read-only, nosuid and nodev, and
// chroots into it.
func detachedRoot(root string) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, root, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", root, err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, Propagation: unix.MS_PRIVATE}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("fchdir: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return nil
}

// hide mounts an empty, read-only tmpfs over dir.
func hide(dir string) error {
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555")
}

// readOnlyTree makes root (a mount point) and every mount under it
// read-only and nosuid, and root itself nodev: with mount_setattr where
// the kernel has it (5.12), else by remounting each mount /proc lists,
// keeping the flags it has.
func readOnlyTree(root string, remount bool) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID}
	err := error(unix.ENOSYS)
	if !remount {
		err = unix.MountSetattr(unix.AT_FDCWD, root, unix.AT_RECURSIVE, &attr)
	}
	if err == nil {
		attr = unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NODEV}
		if err := unix.MountSetattr(unix.AT_FDCWD, root, 0, &attr); err != nil {
			return fmt.Errorf("make %s nodev: %w", root, err)
		}
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("make %s and every mount under it read-only: %w", root, err)
	}
	ms, err := mounts()
	if err != nil {
		return fmt.Errorf("make every mount under %s read-only: %w", root, err)
	}
	for _, m := range ms {
		if !under(m.point, root) {
			continue
		}
		flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID) | m.flags
		if m.point == root {
			flags |= unix.MS_NODEV
		}
		if err := unix.Mount("", m.point, "", flags, ""); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remount %s read-only: %w", m.point, err)
		}
	}
	return nil
}

// under: p is root or below it.
func under(p, root string) bool {
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}

type mountEntry struct {
	point, fstype string
	flags         uintptr // the per-mount flags to keep on a remount
}

// mounts lists this mount namespace's mounts, parents first.
func mounts() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, err
	}
	var out []mountEntry
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if len(fields) < 6 || sep < 6 || sep+1 >= len(fields) {
			continue
		}
		m := mountEntry{point: unescape(fields[4]), fstype: fields[sep+1]}
		for _, o := range strings.Split(fields[5], ",") {
			switch o {
			case "nodev":
				m.flags |= unix.MS_NODEV
			case "noexec":
				m.flags |= unix.MS_NOEXEC
			case "noatime":
				m.flags |= unix.MS_NOATIME
			case "nodiratime":
				m.flags |= unix.MS_NODIRATIME
			case "relatime":
				m.flags |= unix.MS_RELATIME
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
