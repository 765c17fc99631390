// Package sandbox runs a command from an untrusted bundle (the verification
// run of docs/DESIGN.md §6): chrooted into the target root, as the unprivileged
// user 65534 with no capabilities and no_new_privs, in new PID, mount, IPC
// and UTS namespaces (and a new network namespace unless the command must
// reach the controller), with a timeout; whatever it leaves running is
// killed before [Run] returns. A checksum proves where bytes came from, not
// that they are harmless.
//
// # How
//
// Go's os/exec cannot set no_new_privs or drop the capability bounding set
// in the child, so [Run] re-executes the running binary (/proc/self/exe)
// with one argument (childFlag), an empty environment and two inherited
// pipes: the spec comes in on fd 3, the status goes out on fd 4. Only that
// makes a helper; no environment variable does. The helper is PID 1 of the
// new PID namespace. It makes its mount namespace private, seals the root
// (every mount under it read-only and nosuid, a fresh read-only /proc of
// the PID namespace over the root's /proc, an empty one without a PID
// namespace or over any other proc mount), chroots into it, sets
// no_new_privs, drops every capability from the bounding, ambient,
// inheritable, permitted and effective sets, switches to uid/gid 65534 with
// no supplementary groups, and only then sets the parent-death signal
// (a change of credentials clears it) and checks the installer is alive,
// checks that all of this holds, and execs the command. When the command
// (PID 1) exits or the installer dies, the kernel kills everything else in
// the namespace. Run inside a chroot, where / is not a mount point and so
// cannot be made private, the helper clones the root's own mount alone into
// a detached, private, read-only mount (open_tree, mount_setattr) and
// enters it: none of the root's submounts (/proc, /dev, a tmpfs) is visible.
//
// The program's main must therefore call [MaybeChild] first thing (and a
// test binary's TestMain, for tests that run commands through the sandbox).
//
// # Invariants
//
//   - The command never runs with uid 0 or any capability: when the helper
//     cannot drop them (or prove it did) it does not exec, and Run fails.
//   - An unprivileged caller (image assembly without root) gets the same
//     chroot and namespaces inside a new user namespace where the kernel
//     allows one. Only the caller's own ids are mapped, as 65534 inside (the
//     helper keeps the three capabilities it needs across its exec as
//     ambient ones, and drops them like any other), so the command runs as
//     65534 with no capability and can do nothing the caller could not.
//     Where the kernel refuses the namespace, [Unprivileged] says why and
//     Run does not chroot.
//   - Namespaces are used where the kernel allows; the ones it refuses are
//     listed in [Report.Disabled] with the reason, never silently skipped.
//   - The command sees no process outside the sandbox and can write
//     nowhere in the root (no mount under it is writable), so nothing it
//     writes outlives the run.
//   - When Run returns, no process the command started is left: the PID
//     namespace guarantees it; without one, its process group and every
//     process chrooted into the root are killed. When the installer dies
//     (even by SIGKILL), the command dies with it.
//   - A cancelled ctx returns an error that wraps ctx.Err().
package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Nobody is the uid and gid the command runs as.
const Nobody = 65534

// childFlag is the helper's only argument. It also makes the CLI refuse
// to run when a main that does not call MaybeChild is re-executed as the
// helper: an unknown flag is a usage error before any command runs.
const childFlag = "--sandbox-child-internal-do-not-use"

// The helper's inherited pipes: the spec comes in on specFD (at most
// maxSpec bytes), the status goes out on statusFD.
const (
	specFD   = 3
	statusFD = 4
	maxSpec  = 1 << 20
)

// Spec is one command to run.
type Spec struct {
	Root    string   // host directory to chroot into; "" or "/" = no chroot
	Path    string   // the executable, as seen inside Root
	Args    []string // argv; Args[0] defaults to Path
	Env     []string // the whole environment
	Dir     string   // working directory inside Root ("" = /)
	Network bool     // keep the host's network (the cluster check); false = a new, empty net namespace
	// Proc: the command needs a /proc of its own PID namespace at Root/proc (which must
	// exist): SLURM's configless client reads the configuration it fetched back through
	// /proc/<its pid>/fd. The sealed root has one whenever it has mount and PID namespaces;
	// without them the report says so.
	Proc    bool
	Timeout time.Duration // 0 = none beyond ctx
	Stdout  io.Writer
	Stderr  io.Writer
}

// Report says which protections were in effect.
type Report struct {
	Enabled  []string `json:"enabled"`            // "uid/gid 65534", "no_new_privs", "pid namespace", ...
	Disabled []string `json:"disabled,omitempty"` // "network namespace: operation not permitted", ...
}

// String is the one-line summary for the log.
func (r *Report) String() string {
	s := "sandbox: " + strings.Join(r.Enabled, ", ")
	if len(r.Disabled) > 0 {
		s += "; could not enable: " + strings.Join(r.Disabled, "; ")
	}
	return s
}

// ExecError is the kernel refusing to exec the command inside the sandbox
// (ENOENT for a missing loader, ENOEXEC, EACCES). It wraps the errno, so
// errors.Is(err, fs.ErrNotExist) works.
type ExecError struct {
	Path string
	Err  error
}

func (e *ExecError) Error() string { return "exec " + e.Path + ": " + e.Err.Error() }
func (e *ExecError) Unwrap() error { return e.Err }

// ErrSetup says the sandbox could not be built, so the command was not run.
var ErrSetup = errors.New("sandbox setup failed")

// ErrNotWired says the helper never started: the binary's main does not
// call MaybeChild (a bug).
var ErrNotWired = errors.New("the sandbox helper did not start: main must call sandbox.MaybeChild() first")

type setupError struct{ msg string }

func (e *setupError) Error() string        { return e.msg }
func (e *setupError) Is(target error) bool { return target == ErrSetup }

// childSpec is what the helper gets.
type childSpec struct {
	Root  string   `json:"root"`
	Path  string   `json:"path"`
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Dir   string   `json:"dir"`
	Drop  bool     `json:"drop"`  // switch to Nobody and drop capabilities (we are root)
	Mount bool     `json:"mount"` // in a new mount namespace: make the root read-only
	Probe bool     `json:"probe"` // just exit 0 (namespace probe)
	PIDNS bool     `json:"pidns"` // in a new pid namespace: mount a fresh /proc
	// Parent is the installer's pid; without a pid namespace the helper
	// checks it is still its parent once the parent-death signal is set.
	Parent int `json:"parent"`
	// Remount: make the mounts read-only one by one, as on a kernel
	// without mount_setattr (tests set it through legacyRemount).
	Remount bool `json:"remount,omitempty"`
	// UserNS: in a new user namespace of an unprivileged caller, where
	// only the caller's ids are mapped (as Nobody): setgroups is denied
	// there, and the caller's supplementary groups show as the overflow gid.
	UserNS bool `json:"userns"`
}

// namespaces in the order they are given up when the kernel refuses them.
var namespaces = []struct {
	flag uintptr
	name string
}{
	{syscall.CLONE_NEWNET, "network namespace"},
	{syscall.CLONE_NEWUTS, "uts namespace"},
	{syscall.CLONE_NEWIPC, "ipc namespace"},
	{syscall.CLONE_NEWNS, "mount namespace"},
	{syscall.CLONE_NEWPID, "pid namespace"},
}

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// self is the binary to re-execute.
var self = "/proc/self/exe"

// Run runs s in the sandbox and waits for it and everything it started.
// The error is an *exec.ExitError for a non-zero exit, an *ExecError when
// the command could not be executed, ErrSetup (wrapped) when the sandbox
// could not be built, and wraps ctx.Err() (or context.DeadlineExceeded for
// s.Timeout) when the run was cut short. The report is returned in every
// case it is known.
func Run(ctx context.Context, s Spec) (*Report, error) {
	if s.Path == "" {
		return nil, fmt.Errorf("%w: no command", ErrSetup)
	}
	root := s.Root
	if root == "" {
		root = "/"
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	args := s.Args
	if len(args) == 0 {
		args = []string{s.Path}
	}
	rep := &Report{}
	cs := childSpec{Root: root, Path: s.Path, Args: args, Env: s.Env, Dir: s.Dir}
	var flags uintptr
	if geteuid() == 0 {
		cs.Drop = true
		flags = nsFlags(s.Network)
		if root != "/" {
			if fi, err := os.Stat(root); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrSetup, err)
			} else if fi.Mode().Perm()&0o001 == 0 {
				return nil, &setupError{fmt.Sprintf("%s: the root directory is mode %04o, so uid %d cannot enter it (roots are normally 0755)", root, fi.Mode().Perm(), Nobody)}
			}
		}
	} else if uerr := Unprivileged(); uerr == nil {
		// Image assembly without root: a user namespace grants chroot and
		// the other namespaces; 65534 inside it is the caller outside.
		cs.Drop, cs.UserNS = true, true
		flags = syscall.CLONE_NEWUSER | nsFlags(s.Network)
		if root != "/" {
			if fi, err := os.Stat(root); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrSetup, err)
			} else if fi.Mode().Perm()&0o100 == 0 {
				return nil, &setupError{fmt.Sprintf("%s: the root directory is mode %04o, so its owner cannot enter it", root, fi.Mode().Perm())}
			}
		}
	} else {
		rep.Disabled = append(rep.Disabled, fmt.Sprintf("uid/gid %d and namespaces: not running as root (already uid %d) and %v", Nobody, geteuid(), uerr))
	}
	if s.Network && cs.Drop {
		rep.Disabled = append(rep.Disabled, "network namespace: not used, the command must reach the controller")
	}
	flags, refused := allowedFlags(flags)
	rep.Disabled = append(rep.Disabled, refused...)
	cs.Mount = flags&syscall.CLONE_NEWNS != 0
	if cs.Drop && !cs.Mount {
		rep.Disabled = append(rep.Disabled, "sealing the root: without a mount namespace its mounts stay as they are "+
			"(a /proc there shows every process's command line; a mount writable by uid 65534 stays writable)")
	}
	cs.PIDNS = flags&syscall.CLONE_NEWPID != 0
	cs.Parent = os.Getpid()
	cs.Remount = legacyRemount
	if s.Proc && !(cs.Mount && cs.PIDNS) {
		rep.Disabled = append(rep.Disabled, "a /proc of its own: needs new mount and PID namespaces")
	}
	if flags&syscall.CLONE_NEWUSER != 0 {
		rep.Enabled = append(rep.Enabled, fmt.Sprintf("user namespace (uid/gid %d inside are the caller's uid %d/gid %d, the only ids mapped)", Nobody, geteuid(), os.Getegid()))
	}
	for _, ns := range namespaces {
		if flags&ns.flag != 0 {
			rep.Enabled = append(rep.Enabled, ns.name)
		}
	}

	rctx := ctx
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	st, err := start(rctx, cs, flags, s.Stdout, s.Stderr)
	if err != nil {
		return rep, err
	}
	werr := st.cmd.Wait()
	pidns := flags&syscall.CLONE_NEWPID != 0
	leftovers := cleanup(st.cmd.Process.Pid, root, pidns)
	if leftovers != "" {
		rep.Disabled = append(rep.Disabled, leftovers)
	}
	st.drain()
	msgs := st.status()
	ready := false
	var execErr, setupErr error
	for _, m := range msgs {
		if m == "" {
			continue
		}
		switch m[0] {
		case 'I':
			rep.Enabled = append(rep.Enabled, m[1:])
		case 'W':
			rep.Disabled = append(rep.Disabled, m[1:])
		case 'R':
			ready = true
		case 'X':
			n, _ := strconv.Atoi(m[1:])
			execErr = &ExecError{Path: s.Path, Err: syscall.Errno(n)}
		case 'E':
			setupErr = &setupError{m[1:]}
		}
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("%s: %w", s.Path, ctx.Err())
	}
	if rctx.Err() != nil {
		return rep, fmt.Errorf("%s did not finish within %s: %w", s.Path, s.Timeout, context.DeadlineExceeded)
	}
	switch {
	case setupErr != nil:
		return rep, setupErr
	case execErr != nil:
		return rep, execErr
	case !ready:
		return rep, fmt.Errorf("%w (%v)", ErrNotWired, werr)
	}
	return rep, werr
}

type started struct {
	cmd    *exec.Cmd
	done   chan []string
	copies sync.WaitGroup
	pipes  []*os.File // read ends of the output pipes
}

func (s *started) status() []string { return <-s.done }

// drain waits for the output pipes to reach EOF: at once when everything
// that held them is dead, else for at most two seconds.
func (s *started) drain() {
	done := make(chan struct{})
	go func() { s.copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		for _, p := range s.pipes {
			p.Close()
		}
		<-done
	}
	for _, p := range s.pipes {
		p.Close()
	}
}

// output gives cmd an *os.File for w, so Wait returns when the command
// exits, not when the last holder of the pipe does (a process it left
// behind); the copy is waited for in drain, after the cleanup.
func (s *started) output(w io.Writer) (*os.File, error) {
	if w == nil {
		return nil, nil
	}
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.pipes = append(s.pipes, pr)
	s.copies.Add(1)
	go func() {
		defer s.copies.Done()
		_, _ = io.Copy(w, pr)
	}()
	return pw, nil
}

// refused are clone flags tests pretend the kernel refuses.
var refused uintptr

// legacyRemount makes tests take the path of a kernel without
// mount_setattr (before 5.12).
var legacyRemount bool

// start starts the helper with the clone flags.
func start(ctx context.Context, cs childSpec, flags uintptr, stdout, stderr io.Writer) (*started, error) {
	if flags&refused != 0 {
		return nil, fmt.Errorf("%w: start the helper: %w", ErrSetup, &os.SyscallError{Syscall: "clone", Err: syscall.EPERM})
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	if len(b) > maxSpec {
		return nil, fmt.Errorf("%w: the command's arguments and environment are %d bytes, more than %d", ErrSetup, len(b), maxSpec)
	}
	// The spec goes through a pipe, never the environment: only a process
	// this one started with both pipes is a helper.
	sr, sw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		sr.Close()
		sw.Close()
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	argv0 := "slurm-installer"
	if len(os.Args) > 0 {
		argv0 = os.Args[0] // testscript dispatches on it
	}
	cmd := exec.CommandContext(ctx, self, childFlag)
	cmd.Args[0] = argv0
	cmd.Env = []string{} // none of the installer's (its credentials included)
	cmd.Dir = "/"
	st := &started{cmd: cmd}
	var outs []*os.File
	closeOuts := func() {
		for _, f := range outs {
			if f != nil && f != stdoutFile(stdout) && f != stdoutFile(stderr) {
				f.Close()
			}
		}
	}
	for _, w := range []io.Writer{stdout, stderr} {
		f, err := st.output(w)
		if err != nil {
			closeOuts()
			for _, f := range []*os.File{sr, sw, pr, pw} {
				f.Close()
			}
			return nil, fmt.Errorf("%w: %v", ErrSetup, err)
		}
		outs = append(outs, f)
	}
	if outs[0] != nil {
		cmd.Stdout = outs[0]
	}
	if outs[1] != nil {
		cmd.Stderr = outs[1]
	}
	cmd.ExtraFiles = []*os.File{sr, pw} // specFD, statusFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: flags}
	if flags&syscall.CLONE_NEWUSER != 0 {
		// The caller's ids are Nobody inside; nothing else is mapped. The
		// helper, no longer uid 0 there, keeps across its exec (as ambient
		// capabilities) what it needs to mount, chroot and empty the
		// bounding set, and drops them before the command runs.
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: Nobody, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: Nobody, HostID: os.Getegid(), Size: 1}}
		cmd.SysProcAttr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SYS_CHROOT, unix.CAP_SETPCAP}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Start()
	closeOuts() // the child has its copies
	sr.Close()
	pw.Close()
	if err != nil {
		sw.Close()
		pr.Close()
		st.drain()
		return nil, fmt.Errorf("%w: start the helper: %w", ErrSetup, err)
	}
	// A helper that died early makes this write fail; its status says why.
	_, _ = sw.Write(b)
	sw.Close()
	done := make(chan []string, 1)
	go func() {
		var msgs []string
		sc := bufio.NewScanner(io.LimitReader(pr, 1<<16))
		for sc.Scan() {
			msgs = append(msgs, sc.Text())
		}
		pr.Close()
		done <- msgs
	}()
	st.done = done
	return st, nil
}

// stdoutFile is w when it is an *os.File the caller owns (never closed here).
func stdoutFile(w io.Writer) *os.File {
	f, _ := w.(*os.File)
	return f
}

type allowed struct {
	flags   uintptr
	refused []string
}

var (
	allowedMu    sync.Mutex
	allowedCache = map[uintptr]allowed{}
)

// allowedFlags returns the clone flags the kernel accepts: all of flags
// when it takes them together, else each one that a probe start accepts.
// The answer is kept for the life of the process.
func allowedFlags(flags uintptr) (uintptr, []string) {
	allowedMu.Lock()
	defer allowedMu.Unlock()
	key := flags | refused<<32
	if a, ok := allowedCache[key]; ok {
		return a.flags, a.refused
	}
	f, r := probeFlags(flags)
	allowedCache[key] = allowed{f, r}
	return f, r
}

func probeFlags(flags uintptr) (uintptr, []string) {
	if flags == 0 || probe(flags) == nil {
		return flags, nil
	}
	// In a user namespace every other namespace is asked for with it.
	base := flags & syscall.CLONE_NEWUSER
	ok := base
	var refused []string
	for _, ns := range namespaces {
		if flags&ns.flag == 0 {
			continue
		}
		if err := probe(base | ns.flag); err != nil {
			refused = append(refused, ns.name+": "+err.Error())
			continue
		}
		ok |= ns.flag
	}
	if ok != 0 && probe(ok) != nil { // should not happen; be safe
		return 0, append(refused, "namespaces together: refused")
	}
	return ok, refused
}

var probeTimeout = 10 * time.Second

var (
	unprivOnce sync.Once
	unprivErr  error
)

// Unprivileged reports whether a caller that is not root can chroot in a
// new user namespace (where uid/gid 65534 map to its own): nil when it
// can, else the reason the kernel gave. A probe starts the helper once
// (it chroots to / inside the namespace and exits); the answer is kept
// for the life of the process. For root it is always nil.
func Unprivileged() error {
	if geteuid() == 0 {
		return nil
	}
	unprivOnce.Do(func() {
		if refused&syscall.CLONE_NEWUSER != 0 {
			unprivErr = errors.New("an unprivileged user namespace was refused: clone: operation not permitted")
			return
		}
		err := probeSpec(childSpec{Probe: true, UserNS: true}, syscall.CLONE_NEWUSER)
		if err != nil {
			unprivErr = fmt.Errorf("an unprivileged user namespace (for chroot) was refused: %w", err)
		}
	})
	return unprivErr
}

func probe(flags uintptr) error {
	return probeSpec(childSpec{Probe: true, UserNS: flags&syscall.CLONE_NEWUSER != 0}, flags)
}

func probeSpec(cs childSpec, flags uintptr) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	st, err := start(ctx, cs, flags, nil, nil)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return errno
		}
		return err
	}
	err = st.cmd.Wait()
	st.drain()
	st.status()
	return err
}

// cleanup kills whatever the run left. With a PID namespace the kernel
// already has (its PID 1 exited); the process group is killed regardless.
// Without one, processes chrooted into root are hunted down by their
// /proc/PID/root. It returns a note when it had to kill or cannot be sure.
func cleanup(pgid int, root string, pidns bool) string {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if pidns {
		return ""
	}
	if root == "/" {
		return "pid namespace: without it, a process that left the process group and is not chrooted cannot be found and may survive"
	}
	killed := 0
	for i := 0; i < 10; i++ {
		pids := chrootedInto(root)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			if syscall.Kill(p, syscall.SIGKILL) == nil {
				killed++
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if killed > 0 {
		return fmt.Sprintf("pid namespace: without it, %d process(es) the command left in the root were found and killed", killed)
	}
	return ""
}

// chrootedInto lists the processes whose root directory is root.
func chrootedInto(root string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if r, err := os.Readlink("/proc/" + e.Name() + "/root"); err == nil && (r == root || strings.HasPrefix(r, root+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nsFlags are the clone flags of the sandbox's namespaces; with network
// the command keeps the host's network (the cluster check).
func nsFlags(network bool) uintptr {
	var flags uintptr
	for _, ns := range namespaces {
		if ns.flag == syscall.CLONE_NEWNET && network {
			continue
		}
		flags |= ns.flag
	}
	return flags
}
