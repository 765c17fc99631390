package verify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/safeio"
	"slurm-installer/internal/sandbox"
	"slurm-installer/rootfs"
)

// ErrCannotExec says the installed commands cannot be run from here: chroot
// needs root privileges, or the binaries are for another CPU. The caller
// reports "checked files only" instead of a failure. Test with errors.Is.
var ErrCannotExec = errors.New("cannot run the installed commands here")

type cannotExecError struct{ msg string }

func (e *cannotExecError) Error() string        { return e.msg }
func (e *cannotExecError) Is(target error) bool { return target == ErrCannotExec }

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// unprivileged is sandbox.Unprivileged (can a caller that is not root
// chroot in a user namespace?); tests replace it.
var unprivileged = sandbox.Unprivileged

// RunInput says which installed command to run and where.
type RunInput struct {
	RootDir string        // the target root ("" = "/")
	Prefix  string        // the install prefix inside the root ("" = /usr/local/slurm)
	BinDir  string        // where the commands are linked onto PATH ("" = /usr/local/bin)
	Command string        // "" = sinfo (sreport --version prints no version)
	Want    string        // expected version, e.g. 22.05.8; "" = any
	Chroot  bool          // run inside RootDir with chroot(2); needs root privileges
	Timeout time.Duration // 0 = 30 s for RunVersion, 20 s for Cluster
}

// RunResult is what RunVersion established.
type RunResult struct {
	Version  string   `json:"version"`   // "22.05.8"
	Output   string   `json:"output"`    // the first line printed, "slurm 22.05.8"
	Command  string   `json:"command"`   // the in-root path run, "/usr/local/bin/sinfo"
	SiteConf bool     `json:"site_conf"` // the root's /etc/slurm/slurm.conf was used
	Warnings []string `json:"warnings,omitempty"`
	// Sandbox says which protections the run had ("sandbox: pid
	// namespace, ..., no_new_privs; could not enable: ..."), for the log.
	Sandbox string `json:"sandbox,omitempty"`
}

const (
	siteConf   = "/etc/slurm/slurm.conf"
	minimalEnv = "PATH=/usr/local/bin:/usr/bin:/bin"
	scratchDir = "var/lib/slurm-installer" // relative to the root
	maxOutput  = 64 << 10
)

// target is a RunInput made ready to run.
type target struct {
	in      RunInput
	fs      *rootfs.FS
	chroot  bool
	cmd     string // in-root path of the command
	host    string // its host path, links resolved with chroot semantics
	foreign string // the command's arch when it is not this host's: the kernel may still run it (binfmt_misc)
	proc    bool   // give the command a /proc of its own (Query)
	sandbox *sandbox.Report
}

func prepare(in RunInput, defTimeout time.Duration) (*target, error) {
	if in.RootDir == "" {
		in.RootDir = "/"
	}
	abs, err := filepath.Abs(in.RootDir)
	if err != nil {
		return nil, failure.New(failure.Usage, "the target root %s: %w", in.RootDir, err)
	}
	in.RootDir = abs
	if in.Prefix == "" {
		in.Prefix = "/usr/local/slurm"
	}
	if in.BinDir == "" {
		in.BinDir = "/usr/local/bin"
	}
	if in.Command == "" {
		in.Command = "sinfo"
	}
	if in.Timeout <= 0 {
		in.Timeout = defTimeout
	}
	t := &target{in: in, fs: rootfs.New(in.RootDir), chroot: in.Chroot && abs != "/"}
	t.cmd = path.Join("/", in.BinDir, in.Command)
	h, err := t.fs.Resolve(t.cmd)
	if err != nil {
		// Install when nothing is; reinstall to put back the links in BinDir.
		return nil, failure.New(failure.Verify, "%s is not in the root: %w", t.cmd, err).
			Suggest(failure.Install).Suggest(failure.Reinstall)
	}
	t.host = h
	f, _, err := safeio.Open(h) // a root's file: regular only, never waited on
	if err != nil {
		return nil, failure.New(failure.Verify, "open %s: %w", t.cmd, err)
	}
	info, err := rootfs.ReadELFFrom(f)
	f.Close()
	if err == nil && info.Arch != platform.Host() {
		// Another CPU's binary: try it anyway, the kernel may run it
		// through binfmt_misc (qemu-user-static); an ENOEXEC from the exec
		// is the honest "cannot run here" (see run).
		t.foreign = info.Arch
		if t.foreign == "" {
			t.foreign = info.Machine.String()
		}
	}
	if t.chroot && geteuid() != 0 {
		if err := unprivileged(); err != nil {
			return nil, &cannotExecError{fmt.Sprintf("running %s inside %s needs chroot, which needs root privileges or an unprivileged user namespace, and %v; checked files only", t.cmd, in.RootDir, err)}
		}
	}
	return t, nil
}

// RunVersion runs `<BinDir>/<Command> --version` in the root the way a
// backend process would (no shell, no LD_LIBRARY_PATH, PATH only) and
// returns the version it printed.
//
// SLURM commands read slurm.conf before they parse flags (docs/DESIGN.md §8):
// when the root has no /etc/slurm/slurm.conf, a throwaway minimal one is
// written under /var/lib/slurm-installer/verify-*/ (through os.Root) and
// passed as SLURM_CONF, and removed before RunVersion returns; a site conf
// is used as it is, with a warning when its PluginDir is not in the root.
//
// Errors: ErrCannotExec (wrapped) when the command cannot be run from here;
// failure.Verify for a non-zero exit (with its stderr), a timeout, output
// that is not a version, or a version other than in.Want.
func RunVersion(ctx context.Context, in RunInput) (RunResult, error) {
	t, err := prepare(in, 30*time.Second)
	if err != nil {
		return RunResult{}, err
	}
	res := RunResult{Command: t.cmd}
	var env []string
	if t.fs.Exists(siteConf) {
		res.SiteConf = true
		res.Warnings = t.checkSiteConf()
		env = append(env, "SLURM_CONF="+t.hostOrRoot(siteConf))
	} else {
		conf, cleanup, err := t.writeThrowawayConf()
		if err != nil {
			return res, err
		}
		defer cleanup()
		env = append(env, "SLURM_CONF="+t.hostOrRoot(conf))
	}
	stdout, stderr, err := t.run(ctx, env, false, &res.Warnings, "--version")
	if t.sandbox != nil {
		res.Sandbox = t.sandbox.String()
	}
	if err != nil {
		return res, err
	}
	line := firstLine(stdout)
	if line == "" {
		line = firstLine(stderr)
	}
	res.Output = line
	m := versionRE.FindStringSubmatch(line)
	if m == nil {
		return res, failure.New(failure.Verify, "`%s --version` printed %q, not a SLURM version", t.cmd, line).
			WithHint("check that %s is the SLURM client command (`sreport --version`, for one, prints no version)", t.cmd)
	}
	res.Version = m[1]
	if want := strings.TrimPrefix(in.Want, "v"); want != "" && res.Version != want && !strings.HasPrefix(res.Version, want+"-") {
		return res, failure.New(failure.Verify, "%s is SLURM %s but %s was asked for: the bundle is mislabelled or an older install is on PATH", t.cmd, res.Version, want).
			Suggest(failure.Reinstall)
	}
	return res, nil
}

// versionRE matches `slurm 22.05.8` and Debian's `slurm-wlm 22.05.8`.
var versionRE = regexp.MustCompile(`^slurm(?:-wlm)?\s+v?(\d+\.\d+[0-9A-Za-z.\-]*)`)

// Cluster runs `sinfo -h -o '%N %T'` in the root with the site's
// /etc/slurm/slurm.conf (or, without one, the copy sackd caches in
// /run/slurm/conf), which it requires, and returns the node list
// followed by what it learnt about versions: the controller's
// (`scontrol show config`, SLURM_VERSION) and whether this client sits in
// the window of clients it accepts. The run is bounded by in.Timeout
// (default 20 s): with slurmctld down, sinfo gives up after ~9 s.
//
// The protocol-mismatch signature ("Zero Bytes were transmitted or
// received") is reported as such, with this client's version and the
// controllers it can talk to (docs/DESIGN.md §9), not as a reachability
// problem. Commands run in the sandbox with the host's network.
func Cluster(ctx context.Context, in RunInput) (string, error) {
	in.Command = "sinfo"
	rfs := rootfs.New(in.RootDir)
	conf := siteConf
	if !rfs.Exists(siteConf) {
		// SLURM's next source: the configuration sackd caches (23.11+).
		conf = SackdConf
		if !rfs.Exists(SackdConf) {
			return "", failure.New(failure.Usage, "the cluster check needs %s in the root", siteConf).
				WithHint("mount or copy the cluster's slurm.conf to %s (and munge's key to /etc/munge/munge.key) and retry", siteConf)
		}
	}
	t, err := prepare(in, 20*time.Second)
	if err != nil {
		return "", err
	}
	env := []string{"SLURM_CONF=" + t.hostOrRoot(conf)}
	stdout, stderr, err := t.run(ctx, env, true, nil, "-h", "-o", "%N %T")
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		if failure.ClassOf(err) == failure.Verify && ClassifyClusterOutput(stderr+"\n"+stdout) == FailProtocol {
			client := t.clientVersion(ctx, env)
			return "", failure.New(failure.Verify, "%w: the controller and this client do not speak the same SLURM protocol "+
				"(`Zero Bytes were transmitted or received` is what SLURM prints for a protocol-version mismatch; a network fault reads `Unable to contact slurm controller`); %s",
				err, windowText(client)).
				WithHint("the controller's log says `Invalid Protocol Version`: install the client bundle of the controller's SLURM major release, or of one whose window includes it").
				Suggest(failure.InstallVersion, "<the controller's major, such as 22.05>")
		}
		host, port := t.controller()
		return "", failure.Wrap(failure.Verify, t.withHint(err, fmt.Sprintf(
			"slurmctld (SlurmctldHost=%s in %s) must be reachable from here on TCP %s, and munged must run with the cluster's key", host, siteConf, port)))
	}
	nodes := strings.TrimSpace(stdout)
	return nodes + t.versionNote(ctx, env), nil
}

// clientVersion is what the installed sinfo says it is, "unknown" when it
// does not say.
func (t *target) clientVersion(ctx context.Context, env []string) string {
	out, _, err := t.run(ctx, env, false, nil, "--version")
	if err != nil {
		return "unknown"
	}
	if m := versionRE.FindStringSubmatch(firstLine(out)); m != nil {
		return m[1]
	}
	return "unknown"
}

// versionNote asks the controller its version (`scontrol show config`)
// and says whether this client is in its window: "; controller SLURM
// 22.05.8, which accepts clients of 20.11 to 22.05: this client (22.05.8)
// is inside".
func (t *target) versionNote(ctx context.Context, env []string) string {
	client := t.clientVersion(ctx, env)
	sc, err := prepare(RunInput{RootDir: t.in.RootDir, Prefix: t.in.Prefix, BinDir: t.in.BinDir, Command: "scontrol",
		Chroot: t.in.Chroot, Timeout: t.in.Timeout}, 20*time.Second)
	if err != nil {
		return fmt.Sprintf("; controller version unknown (%v); client SLURM %s", err, client)
	}
	out, _, err := sc.run(ctx, env, true, nil, "show", "config")
	ctl := controllerVersion(out)
	if err != nil || ctl == "" {
		return fmt.Sprintf("; controller version unknown (`scontrol show config` gave no SLURM_VERSION); client SLURM %s", client)
	}
	return "; " + windowNote(client, ctl)
}

// windowNote says where a client stands against a controller.
func windowNote(client, controller string) string {
	lo, hi, err := AcceptedClients(controller)
	if err != nil {
		return fmt.Sprintf("controller SLURM %s (%v); client SLURM %s", controller, err, client)
	}
	ok, err := CanTalk(client, controller)
	switch {
	case err != nil:
		return fmt.Sprintf("controller SLURM %s, which accepts clients of %s to %s; this client's version %s: %v", controller, lo, hi, client, err)
	case ok:
		return fmt.Sprintf("controller SLURM %s, which accepts clients of %s to %s: this client (SLURM %s) is inside that window", controller, lo, hi, client)
	}
	return fmt.Sprintf("controller SLURM %s, which accepts clients of %s to %s: this client (SLURM %s) is OUTSIDE that window and may stop working", controller, lo, hi, client)
}

// withHint replaces the hint of a failure.Error about reaching the
// controller, or the generic one ([target.noMore]).
func (t *target) withHint(err error, hint string) error {
	var fe *failure.Error
	if !errors.As(err, &fe) || fe.Class != failure.Verify {
		return err
	}
	msg := strings.ToLower(fe.Error())
	for _, s := range []string{"contact", "controller", "connect", "munge", "timed out", "did not finish", "authentication"} {
		if strings.Contains(msg, s) {
			fe.Hint, fe.Fix = hint, nil
			return err
		}
	}
	if fe.Hint == t.noMore() && len(fe.Fix) == 0 {
		fe.Hint = hint
	}
	return err
}

// hostOrRoot is the path the command sees for the in-root path p.
func (t *target) hostOrRoot(p string) string {
	if t.chroot {
		return p
	}
	return filepath.Join(t.in.RootDir, p)
}

// run execs the command with args and a minimal environment plus env, in
// the sandbox (docs/DESIGN.md §6): chrooted, as uid 65534 with no capabilities
// and no_new_privs, in new namespaces where the kernel allows (a new
// network namespace unless network is set), bounded by the timeout, and
// with whatever it leaves running killed. What the sandbox could not enable
// is added to *warn.
func (t *target) run(ctx context.Context, env []string, network bool, warn *[]string, args ...string) (stdout, stderr string, err error) {
	// Inside the chroot the kernel follows the links; outside it, a link
	// with an absolute target would lead out of the root, so exec the file
	// it resolves to there (the same file when the root is /).
	name, root := t.host, "/"
	if t.chroot {
		name, root = t.cmd, t.in.RootDir
	}
	var out, errb capBuffer
	spec := sandbox.Spec{Root: root, Path: name, Args: append([]string{t.cmd}, args...), Env: append([]string{minimalEnv}, env...),
		Dir: "/", Network: network, Proc: t.proc, Timeout: t.in.Timeout, Stdout: &out, Stderr: &errb}
	shown := strings.Join(append([]string{t.cmd}, quoteArgs(args...)...), " ")
	rep, err := sandbox.Run(ctx, spec)
	if rep != nil {
		t.sandbox = rep
		if len(rep.Disabled) > 0 && warn != nil {
			*warn = append(*warn, "the verification sandbox could not enable: "+strings.Join(rep.Disabled, "; "))
		}
	}
	stdout, stderr = out.String(), errb.String()
	if err == nil {
		return stdout, stderr, nil
	}
	if ctx.Err() != nil {
		return stdout, stderr, fmt.Errorf("`%s`: %w", shown, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return stdout, stderr, failure.New(failure.Verify, "`%s` did not finish within %s", shown, t.in.Timeout).
			WithHint("SLURM commands hang on DNS lookups and unreachable controllers; check slurm.conf's SlurmctldHost and name resolution in the root")
	}
	var xe *sandbox.ExecError
	if t.foreign != "" && errors.As(err, &xe) && errors.Is(err, syscall.ENOEXEC) {
		return stdout, stderr, &cannotExecError{fmt.Sprintf("not executed: this %s host cannot run %s binaries (tried: the kernel has no binfmt_misc emulation for %s registered)", platform.Host(), t.foreign, t.foreign)}
	}
	if errors.Is(err, sandbox.ErrNotWired) {
		return stdout, stderr, failure.New(failure.Internal, "run `%s`: %w", shown, err)
	}
	if errors.Is(err, sandbox.ErrSetup) {
		return stdout, stderr, setupFailed(shown, err)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		what := fmt.Sprintf("exited with status %d", code)
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			what = "was killed by signal " + ws.Signal().String()
		}
		msg := headLines(stderr, 5)
		if msg == "" {
			msg = headLines(stdout, 5)
		}
		if msg != "" {
			what += ": " + msg
		}
		return stdout, stderr, failure.New(failure.Verify, "`%s` %s", shown, what).Carry(t.exitHint(code, stderr))
	}
	// The kernel refused the exec itself: ENOENT for a missing loader,
	// ENOEXEC for a foreign format, EACCES for a file 65534 cannot read.
	code := 126
	if errors.Is(err, fs.ErrNotExist) {
		code = 127
	}
	return stdout, stderr, failure.New(failure.Verify, "cannot run `%s`: %w", shown, err).Carry(t.exitHint(code, err.Error()))
}

// setupFailed is the error for a sandbox that could not be built: the
// command was not run. Only a caller that is not root is told to retry as
// root; root is told the sandbox's own reason, which the error carries.
func setupFailed(shown string, err error) error {
	if strings.Contains(err.Error(), "cannot enter it") {
		return &cannotExecError{msg: fmt.Sprintf("not executed: %v; chmod 755 it to let the unprivileged verification run in", err)}
	}
	e := failure.New(failure.Verify, "`%s` was not run: %w", shown, err)
	if geteuid() != 0 {
		return e.WithHint("the verification run needs root to drop to uid %d inside the root", sandbox.Nobody).Suggest(failure.VerifyAsRoot)
	}
	return e.WithHint("the sandbox the bundle's commands run in could not be built here, for the reason given; nothing from the bundle was run")
}

const loaderHint = "the loader or a library is missing"

// exitHint turns an exit status and stderr into advice: a hint and the
// remedies only the command line can word.
func (t *target) exitHint(code int, stderr string) failure.Hints {
	s := strings.ToLower(stderr)
	has := func(subs ...string) bool { return containsAny(s, subs...) }
	switch {
	case code == 127 || has("error while loading shared libraries", "cannot open shared object"):
		return failure.Hints{Hint: loaderHint, Fix: []failure.Remedy{{Step: failure.RunVerify}}}
	case has("plugin"):
		return failure.Hints{Hint: fmt.Sprintf("SLURM could not load its plugins: PluginDir in slurm.conf must name an existing directory, the bundle's is %s/lib/slurm", t.in.Prefix)}
	case has("configuration", "slurm.conf"):
		return failure.Hints{Hint: fmt.Sprintf("SLURM could not read its configuration: check %s in the root", siteConf)}
	case has("not found", "no such file"):
		return failure.Hints{Hint: loaderHint, Fix: []failure.Remedy{{Step: failure.RunVerify}}}
	case code == 126 || has("exec format error", "permission denied"):
		return failure.Hints{Hint: fmt.Sprintf("%s cannot be executed: check its mode, a noexec mount and its architecture", t.cmd)}
	}
	return failure.Hints{Hint: t.noMore()}
}

// noMore is the generic hint for a command that failed without saying why.
// It never tells anyone to run the command by hand (issue 23 item 9): a
// bundle's command that failed verification is untrusted, it has been
// rolled back, and by hand it would run as root outside the sandbox.
func (t *target) noMore() string {
	return fmt.Sprintf("`%s` said nothing more than the output quoted here; it ran only inside the verification sandbox (uid %d, no capabilities); "+
		"a command that failed verification is untrusted: do not run it by hand, least of all as root", t.cmd, sandbox.Nobody)
}

// writeThrowawayConf writes the minimal slurm.conf of docs/DESIGN.md §8 through
// os.Root and returns its in-root path and a cleanup that removes it and
// any directory it had to create.
func (t *target) writeThrowawayConf() (conf string, cleanup func(), err error) {
	r, err := os.OpenRoot(t.in.RootDir)
	if err != nil {
		return "", nil, failure.New(failure.FileSystem, "open the root: %w", err)
	}
	var created []string
	for _, d := range []string{"var", "var/lib", scratchDir} {
		if _, err := r.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			created = append(created, d)
		}
	}
	fail := func(err error) (string, func(), error) {
		removeCreated(r, created)
		r.Close()
		if errors.Is(err, syscall.EROFS) {
			// A read-only root (a verify of a running, locked-down
			// container) is not a broken install: say what was not done.
			return "", nil, &cannotExecError{msg: "not executed: the root is read-only, so the throwaway slurm.conf that `" +
				t.in.Command + " --version` needs cannot be written there (with a site " + siteConf + " it runs as it is)"}
		}
		return "", nil, failure.New(failure.FileSystem, "write a throwaway slurm.conf in the root: %w", err)
	}
	if err := r.MkdirAll(scratchDir, 0o755); err != nil {
		return fail(err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	dir := scratchDir + "/verify-" + hex.EncodeToString(rnd[:])
	// The command runs as uid 65534: the conf must be readable by it.
	if err := r.Mkdir(dir, 0o755); err != nil {
		return fail(err)
	}
	if err := r.Chmod(dir, 0o755); err != nil {
		_ = r.RemoveAll(dir)
		return fail(err)
	}
	content := fmt.Sprintf("# Throwaway configuration written by slurm-installer to run `%s --version`;\n"+
		"# removed right after. Site configuration belongs in %s.\n"+
		"ClusterName=slurm-installer-verify\nSlurmctldHost=localhost\nPluginDir=%s\n",
		t.in.Command, siteConf, path.Join(t.in.Prefix, "lib/slurm"))
	err = r.WriteFile(dir+"/slurm.conf", []byte(content), 0o644)
	if err == nil {
		err = r.Chmod(dir+"/slurm.conf", 0o644) // whatever the umask: uid 65534 must read it
	}
	if err != nil {
		_ = r.RemoveAll(dir)
		return fail(err)
	}
	return "/" + dir + "/slurm.conf", func() {
		_ = r.RemoveAll(dir)
		removeCreated(r, created)
		r.Close()
	}, nil
}

// removeCreated removes the directories made for the throwaway conf,
// deepest first, when they are empty.
func removeCreated(r *os.Root, created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		_ = r.Remove(created[i])
	}
}

// checkSiteConf warns when the site conf's PluginDir is not in the root.
func (t *target) checkSiteConf() []string {
	b, err := t.fs.ReadFile(siteConf)
	if err != nil {
		return []string{fmt.Sprintf("cannot read %s: %v", siteConf, err)}
	}
	bundle := path.Join(t.in.Prefix, "lib/slurm")
	pd := ConfValue(b, "PluginDir")
	if pd == "" {
		if t.fs.Exists(bundle) {
			return []string{fmt.Sprintf("%s sets no PluginDir, so the commands look in the plugin dir compiled into them, which may not be in this root; set PluginDir=%s", siteConf, bundle)}
		}
		return nil
	}
	var warns []string
	for _, d := range strings.Split(pd, ":") {
		if d != "" && !t.fs.Exists(d) {
			warns = append(warns, fmt.Sprintf("%s sets PluginDir=%s, which does not exist in the root: the commands will fail to load their plugins (the bundle's are in %s)", siteConf, d, bundle))
		}
	}
	return warns
}

// controller returns SlurmctldHost (or the legacy ControlMachine) and
// SlurmctldPort from the site conf, for hints.
func (t *target) controller() (host, port string) {
	b, _ := t.fs.ReadFile(siteConf)
	host = ConfValue(b, "SlurmctldHost")
	if host == "" {
		host = ConfValue(b, "ControlMachine")
	}
	if host == "" {
		host = "(not set)"
	}
	port = ConfValue(b, "SlurmctldPort")
	if port == "" {
		port = "6817"
	}
	return host, port
}

// ConfValue returns the first value of key in a slurm.conf (keys are case
// insensitive; comments start with #; several key=value pairs may share a
// line). It is the one slurm.conf reader of the installer.
func ConfValue(conf []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if ok && strings.EqualFold(k, key) {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// headLines returns the first n non-empty lines of s, joined with " | ".
func headLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}

func quoteArgs(args ...string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " %'\"") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// capBuffer keeps the first maxOutput bytes written to it.
type capBuffer struct{ bytes.Buffer }

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}
