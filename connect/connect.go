package connect

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/internal/failure"
	"slurm-installer/rootfs"
	"slurm-installer/verify"
)

// DefaultPort is slurmctld's port when the address names none.
const DefaultPort = "6817"

// MungeSocket is libmunge's compiled-in socket: where a client finds
// munged with no configuration.
const MungeSocket = "/run/munge/munge.socket.2"

// Options say which installed client to connect, and to what.
type Options struct {
	RootDir string // the target root ("" = /)
	Prefix  string // the installed client's prefix
	BinDir  string // where its commands are linked
	Version string // the installed client's SLURM version
	// Controller is slurmctld's address, HOST or HOST:PORT.
	Controller string
	// ConfURL is a slurm.conf the site publishes; FetchURL reads it.
	ConfURL  string
	FetchURL func(ctx context.Context, url string) ([]byte, error)
	// Force moves a file connect must write but did not write to a backup
	// (recorded, put back by Undo) instead of refusing.
	Force   bool
	Timeout time.Duration // each query of the controller (default 30 s)
	Log     zerolog.Logger
}

// Check is one step of the connection, in order.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Result is what Connect did and found.
type Result struct {
	Record Record
	Checks []Check
}

// The step names, in order.
const (
	StepReach  = "controller"
	StepConfig = "configuration"
	StepPlugin = "plugindir"
	StepAuth   = "credential"
	StepProve  = "cluster"
)

type run struct {
	conf   string // the slurm.conf the root's commands read ("" = SiteConf)
	o      Options
	root   *os.Root
	fs     *rootfs.FS
	prev   *Record
	rec    Record
	checks []Check
	addr   string
}

func (r *run) pass(name, detail string) { r.checks = append(r.checks, Check{name, true, detail}) }

func (r *run) fail(name string, err error) error {
	r.checks = append(r.checks, Check{name, false, err.Error()})
	return err
}

// Connect connects the installed client in the root to the controller
// (the package doc says in which order) and records the outcome. With
// write false it only checks (the verification of a connected root): it
// reads the configuration the root has and writes nothing.
func Connect(ctx context.Context, o Options, write bool) (*Result, error) {
	if o.RootDir == "" {
		o.RootDir = "/"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	root, err := os.OpenRoot(o.RootDir)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "open the root %s: %w", o.RootDir, err)
	}
	defer root.Close()
	prev, err := ReadRecord(root)
	if err != nil {
		return nil, err
	}
	r := &run{o: o, root: root, fs: rootfs.New(o.RootDir), prev: prev}
	if o.Controller == "" && prev != nil {
		o.Controller, r.o.Controller = prev.Controller, prev.Controller
	}
	if prev != nil {
		r.rec.Files, r.rec.Links, r.rec.Dirs = prev.Files, prev.Links, prev.Dirs
	}
	err = r.steps(ctx, write)
	res := &Result{Record: r.rec, Checks: r.checks}
	res.Record.Controller = r.addr
	res.Record.Checked = time.Now().UTC()
	res.Record.Connected = err == nil
	if err != nil {
		res.Record.Error = err.Error()
	}
	if write && (r.addr != "" || prev != nil) {
		if werr := writeRecord(root, &res.Record); werr != nil && err == nil {
			err = werr
		}
	}
	return res, err
}

func (r *run) steps(ctx context.Context, write bool) error {
	addr, err := Address(r.o.Controller)
	if err != nil {
		return err
	}
	r.addr = addr
	if err := r.reach(ctx); err != nil {
		return r.fail(StepReach, err)
	}
	sock := r.mungeSocket()
	if err := r.config(ctx, sock, write); err != nil {
		return r.fail(StepConfig, err)
	}
	if err := r.pluginDir(write); err != nil {
		return r.fail(StepPlugin, err)
	}
	switch {
	case sock != "":
		r.rec.Auth = "munge socket " + sock
	case r.fs.Exists(SackSocket):
		r.rec.Auth = "auth/slurm through sackd (" + SackSocket + ", the key mounted at " + SlurmKey + ")"
	default:
		return r.fail(StepAuth, failure.New(failure.Verify, "no credential: there is no munge socket at %s in the root (nor sackd's socket for auth/slurm)", MungeSocket).
			WithHint("the client authenticates through the host's (or a sidecar's) munged, or for auth/slurm through sackd with the cluster's %s", SlurmKey).Suggest(failure.MountCredential))
	}
	r.pass(StepAuth, r.rec.Auth)
	return r.prove(ctx)
}

// Address normalises HOST[:PORT] to host:port (6817 when none is given).
func Address(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", failure.New(failure.Usage, "no controller address: connecting needs slurmctld's HOST[:PORT]").Suggest(failure.GiveController)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.Trim(s, "[]"), DefaultPort
	}
	if n, perr := strconv.Atoi(port); host == "" || strings.ContainsAny(host, " /\t@") || perr != nil || n < 1 || n > 65535 {
		return "", failure.New(failure.Usage, "%q is not a controller address (HOST or HOST:PORT)", s).Suggest(failure.GiveController)
	}
	return net.JoinHostPort(host, port), nil
}

// reach opens (and closes) a TCP connection to the controller.
func (r *run) reach(ctx context.Context) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("reach the controller: %w", ctx.Err())
		}
		return failure.New(failure.Verify, "cannot reach the controller at %s: %w", r.addr, err).
			WithHint("slurmctld listens on SlurmctldPort (6817 by default); a firewall or a container network without a route to it gives the same").
			Suggest(failure.CheckController)
	}
	c.Close()
	r.pass(StepReach, "TCP "+r.addr+" answers")
	return nil
}

// mungeSocket is the in-root path of a munge socket the root has ("" =
// none), the compiled-in one first.
func (r *run) mungeSocket() string {
	for _, p := range []string{MungeSocket, "/var/run/munge/munge.socket.2"} {
		h, err := r.fs.Resolve(p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(h); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			return p
		}
	}
	return ""
}

// config makes sure the root has the cluster's configuration at SiteConf.
func (r *run) config(ctx context.Context, sock string, write bool) error {
	mine, isOurs := ours(r.root, r.prev, SiteConf)
	_, statErr := r.root.Lstat(rel(SiteConf))
	exists := statErr == nil
	switch {
	case exists && !isOurs && (r.o.ConfURL == "" || !write):
		r.rec.Source = "site"
		r.pass(StepConfig, "the site's own "+SiteConf+" (used as it is)")
		return nil
	case !write:
		if !exists && r.fs.Exists(verify.SackdConf) {
			r.rec.Source, r.conf = SourceSackd, verify.SackdConf
			r.pass(StepConfig, verify.SackdConf+", cached by sackd")
			return nil
		}
		if !exists {
			return failure.New(failure.Verify, "the root has no %s: it is not connected", SiteConf).Suggest(failure.Connect)
		}
		r.rec.Source = r.prevSource()
		r.pass(StepConfig, SiteConf+" written by connect ("+r.rec.Source+")")
		return nil
	}
	var conf []byte
	var err error
	if r.o.ConfURL != "" {
		conf, err = r.fromURL(ctx)
		r.rec.Source = "url " + r.o.ConfURL
	} else if sock == "" && r.fs.Exists(SlurmKey) && r.fs.Exists(r.sackdPath()) {
		// auth/slurm: the bundle's sackd fetches and caches the
		// configuration (and keeps it current); nothing is written here.
		return r.startSackd(ctx)
	} else {
		// The client fetching the configuration loads its plugins from
		// the directory compiled into it before it has any.
		if d := r.compiledPluginDir(); d != "" {
			made, err := r.ensurePlugins(d, true)
			if err != nil {
				return err
			}
			if made {
				r.pass(StepPlugin, fmt.Sprintf("the compiled-in plugin directory %s linked to the bundle's plugins %s", d, bundlePlugins(r.o.Prefix)))
			}
		}
		// The client fetches only when the root has no slurm.conf: connect's
		// own earlier one stands aside meanwhile, and comes back when the
		// fetch fails (the controller down for a moment keeps the root
		// working as it was).
		aside := ""
		if exists {
			aside = path.Join(path.Dir(SiteConf), ".slurm-installer-tmp."+randomID())
			if err := r.root.Rename(rel(SiteConf), rel(aside)); err != nil {
				return failure.New(failure.FileSystem, "move %s aside for the fetch: %w", SiteConf, err)
			}
		}
		conf, err = r.configless(ctx, sock)
		r.rec.Source = "configless"
		if aside != "" {
			if err != nil {
				_ = r.root.Rename(rel(aside), rel(SiteConf))
			} else {
				_ = r.root.Remove(rel(aside))
			}
		}
	}
	if err != nil {
		return err
	}
	data := adapt(conf, r.o.Prefix, sock, r.addr, r.rec.Source)
	f := File{Path: SiteConf, SHA256: sum(data), Backup: mine.Backup}
	if exists && !isOurs {
		if !r.o.Force {
			return failure.New(failure.FileSystem, "%s holds a slurm.conf that connect did not write", SiteConf).
				WithHint("move it away, or drop the published configuration's URL to use it as it is").Suggest(failure.ForceAside)
		}
		b := path.Join(path.Dir(SiteConf), ".slurm-installer-backup."+randomID()+"."+path.Base(SiteConf))
		if err := r.root.Rename(rel(SiteConf), rel(b)); err != nil {
			return failure.New(failure.FileSystem, "move %s aside: %w", SiteConf, err)
		}
		r.o.Log.Warn().Str("path", SiteConf).Str("backup", b).Msg("forced: moved the site's slurm.conf aside; uninstall puts it back")
		f.Backup = b
	}
	// Journal first: a run killed after the write still knows the file is ours.
	r.rec.Files = []File{f}
	if err := writeRecord(r.root, &Record{Controller: r.addr, Files: r.rec.Files, Links: r.rec.Links, Checked: time.Now().UTC()}); err != nil {
		return err
	}
	if err := writeAtomic(r.root, SiteConf, data, 0o644); err != nil {
		return err
	}
	r.pass(StepConfig, fmt.Sprintf("%s written from the %s configuration (%d bytes; PluginDir=%s)", SiteConf, r.rec.Source, len(data), bundlePlugins(r.o.Prefix)))
	return nil
}

func (r *run) prevSource() string {
	if r.prev != nil && r.prev.Source != "" {
		return r.prev.Source
	}
	return "configless"
}

// fromURL reads a slurm.conf the site publishes.
func (r *run) fromURL(ctx context.Context) ([]byte, error) {
	if r.o.FetchURL == nil {
		return nil, failure.New(failure.Internal, "no reader for a configuration URL")
	}
	b, err := r.o.FetchURL(ctx, r.o.ConfURL)
	if err != nil {
		return nil, failure.Wrap(failure.Verify, fmt.Errorf("get the cluster's configuration from %s: %w", r.o.ConfURL, err))
	}
	if verify.ConfValue(b, "SlurmctldHost") == "" && verify.ConfValue(b, "ControlMachine") == "" {
		return nil, failure.New(failure.Verify, "%s is not a slurm.conf: it names no SlurmctldHost", r.o.ConfURL)
	}
	return b, nil
}

// configless has the installed client fetch the controller's configuration
// through the relay, and reads it from the controller's answer.
func (r *run) configless(ctx context.Context, sock string) ([]byte, error) {
	rl, err := newRelay(r.addr, 5*time.Second)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "listen on 127.0.0.1 for the configuration fetch: %w", err)
	}
	in := verify.RunInput{RootDir: r.o.RootDir, Prefix: r.o.Prefix, BinDir: r.o.BinDir, Command: "sinfo",
		Chroot: r.o.RootDir != "/", Timeout: r.o.Timeout}
	// The client fetches before it parses its flags; what it does after
	// (read the fetched copy back through /proc) does not matter here.
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-rl.found:
			cancel()
		case <-qctx.Done():
		}
	}()
	stdout, stderr, qerr := verify.Query(qctx, in, []string{"SLURM_CONF_SERVER=" + rl.addr()}, "--version")
	answers := rl.close()
	if ctxDone(ctx) {
		return nil, fmt.Errorf("fetch the configuration: %w", ctx.Err())
	}
	if errors.Is(qerr, verify.ErrCannotExec) {
		return nil, qerr
	}
	conf, _, err := confFromAnswer(answers)
	if err == nil {
		return conf, nil
	}
	out := stderr + "\n" + stdout
	low := strings.ToLower(out)
	switch {
	case strings.Contains(low, "configless"):
		return nil, failure.New(failure.Verify, "configless is disabled on the controller at %s: it does not hand out its configuration (%s)", r.addr, firstLine(out)).
			Suggest(failure.GiveClusterConf)
	case sock == "" && (strings.Contains(low, "auth") || strings.Contains(low, "munge")):
		return nil, failure.New(failure.Verify, "no credential: there is no munge socket at %s in the root, and the controller authenticates even the configuration fetch", MungeSocket).
			WithHint("the client authenticates through the host's (or a sidecar's) munged").Suggest(failure.MountCredential)
	case strings.Contains(low, "zero bytes were transmitted or received"):
		// What slurmctld does to a credential it cannot decode and to a
		// client outside its protocol window alike: it drops the request.
		return nil, failure.New(failure.Verify, "the controller at %s rejected the credential of the munge socket %s, or this client is outside its protocol window: "+
			"it dropped the configuration request (`Zero Bytes were transmitted or received`); %s", r.addr, sock, verify.Window(r.o.Version)).
			WithHint("the munged behind that socket must use the cluster's munge.key, the one slurmctld's host uses; if it does, install the client bundle of the controller's SLURM major release")
	case strings.Contains(low, "auth") || strings.Contains(low, "munge") || strings.Contains(low, "credential"):
		return nil, failure.New(failure.Verify, "the controller at %s rejected the credential of the munge socket %s (%s)", r.addr, sock, firstLine(out)).
			WithHint("the munged behind that socket must use the cluster's munge.key, the one slurmctld's host uses")
	}
	if qerr != nil {
		return nil, failure.New(failure.Verify, "the client could not fetch the configuration from %s: %w", r.addr, qerr).Suggest(failure.GiveClusterConf)
	}
	return nil, failure.New(failure.Verify, "the controller at %s sent no slurm.conf (%s)", r.addr, firstLine(out)).Suggest(failure.GiveClusterConf)
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "no output"
}

func bundlePlugins(prefix string) string { return path.Join(prefix, "lib/slurm") }

// adapt makes the cluster's slurm.conf work in this container: PluginDir
// names the bundle's plugins, and a munge socket path that is not the one
// mounted here names the mounted one. Everything else is the cluster's.
func adapt(conf []byte, prefix, sock, addr, source string) []byte {
	var out bytes.Buffer
	fmt.Fprintf(&out, "# Written by slurm-installer connect from the %s configuration of the controller %s.\n"+
		"# Connecting again rewrites it; changes belong in the cluster's own slurm.conf.\n", source, addr)
	sc := bufio.NewScanner(bytes.NewReader(conf))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	plugin := false
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(strings.TrimSpace(stripComment(line)), "=")
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "plugindir":
			fmt.Fprintf(&out, "# the cluster's: %s\nPluginDir=%s\n", line, bundlePlugins(prefix))
			plugin = true
			continue
		case "authinfo":
			if sock != "" && strings.Contains(val, "socket=") {
				fmt.Fprintf(&out, "# the cluster's: %s\nAuthInfo=%s\n", line, replaceSocket(strings.TrimSpace(val), sock))
				continue
			}
		}
		out.WriteString(line + "\n")
	}
	if !plugin {
		fmt.Fprintf(&out, "# the bundle's plugins (the cluster sets none: the compiled-in directory is not in this container)\nPluginDir=%s\n", bundlePlugins(prefix))
	}
	return out.Bytes()
}

func stripComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

// replaceSocket sets socket= in a comma-separated AuthInfo value.
func replaceSocket(val, sock string) string {
	parts := strings.Split(strings.Trim(val, `"`), ",")
	for i, p := range parts {
		if strings.HasPrefix(strings.TrimSpace(p), "socket=") {
			parts[i] = "socket=" + sock
		}
	}
	return strings.Join(parts, ",")
}

// pluginDir makes the PluginDir of a site's configuration lead to the
// bundle's plugins: each directory it names that is missing from the root
// becomes a link to them (recorded). A conf connect wrote names them already.
func (r *run) pluginDir(write bool) error {
	conf := r.confPath()
	b, err := r.fs.ReadFile(conf)
	if err != nil {
		return failure.New(failure.Verify, "read %s: %w", conf, err)
	}
	want := bundlePlugins(r.o.Prefix)
	pd := verify.ConfValue(b, "PluginDir")
	if pd == "" {
		if pd = r.compiledPluginDir(); pd == "" {
			return failure.New(failure.Verify, "%s sets no PluginDir, so the commands look in the directory compiled into them, which this container does not have (the bundle's plugins are in %s)", conf, want).
				WithHint("add PluginDir=%s to the configuration the root uses", want)
		}
	}
	var linked []string
	for _, d := range strings.Split(pd, ":") {
		made, err := r.ensurePlugins(path.Clean(d), write)
		if err != nil {
			return err
		}
		if made {
			linked = append(linked, d)
		}
	}
	if len(linked) > 0 {
		r.pass(StepPlugin, fmt.Sprintf("PluginDir %s: %s linked to the bundle's plugins %s", pd, strings.Join(linked, ", "), want))
		return nil
	}
	r.pass(StepPlugin, "PluginDir "+pd+" holds the bundle's plugins")
	return nil
}

// ensurePlugins makes the plugin directory d lead to the bundle's plugins
// when the root lacks it: a link to them, recorded (made says so). A
// directory that holds SLURM plugins is used as it is.
func (r *run) ensurePlugins(d string, write bool) (made bool, err error) {
	want := bundlePlugins(r.o.Prefix)
	if d == want || r.fs.Exists(path.Join(d, "auth_munge.so")) || r.fs.Exists(path.Join(d, "libslurmfull.so")) {
		return false, nil
	}
	if !write {
		return false, failure.New(failure.Verify, "the plugin directory %s is not in the root, so the commands cannot load their plugins (the bundle's are in %s)", d, want).Suggest(failure.Connect)
	}
	if !validPath(d) || strings.HasPrefix(d, "/etc/") || within(d, "/var/lib/slurm-installer") || within(d, r.o.Prefix) {
		return false, failure.New(failure.Verify, "the plugin directory %q cannot be made to lead to the bundle's plugins", d)
	}
	if _, err := r.root.Lstat(rel(d)); err == nil {
		return false, failure.New(failure.Verify, "the plugin directory %s exists in the root but holds no SLURM plugins (the bundle's are in %s)", d, want).
			WithHint("move %s away, or set PluginDir=%s in %s", d, want, SiteConf)
	}
	if fi, err := r.root.Stat(rel(path.Dir(d))); err != nil || !fi.IsDir() {
		return false, failure.New(failure.Verify, "the plugin directory %s is not in the root, and its parent %s is not a directory to put a link in (the bundle's plugins are in %s)", d, path.Dir(d), want).
			WithHint("set PluginDir=%s in %s", want, SiteConf)
	}
	r.rec.Links = append(r.rec.Links, Link{Path: d, Target: want})
	// Journal first: the link is ours before it exists.
	if err := writeRecord(r.root, &Record{Controller: r.addr, Files: r.rec.Files, Links: r.rec.Links, Checked: time.Now().UTC()}); err != nil {
		return false, err
	}
	if err := r.root.Symlink(want, rel(d)); err != nil {
		return false, failure.New(failure.FileSystem, "link %s to the bundle's plugins: %w", d, err)
	}
	return true, nil
}

// compiledPluginDir is the plugin directory compiled into the bundle's
// libslurmfull.so (Debian's: /usr/lib/<triplet>/slurm-wlm): what a client
// reads its plugins from before it has any configuration, as when it
// fetches one. "" when the library names none.
func (r *run) compiledPluginDir() string {
	h, err := r.fs.Resolve(path.Join(r.o.Prefix, "lib/libslurmfull.so"))
	if err != nil {
		return ""
	}
	f, err := os.Open(h)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256<<20))
	if err != nil {
		return ""
	}
	for _, s := range bytes.Split(b, []byte{0}) {
		if m := reCompiledPluginDir.Find(s); m != nil && len(m) == len(s) {
			return string(m)
		}
	}
	return ""
}

var reCompiledPluginDir = regexp.MustCompile(`^/(usr|opt)/[A-Za-z0-9_.+/-]*/slurm(-wlm)?$`)

func within(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// prove runs the installed sinfo against the cluster, as the verification
// does, with its protocol window check.
func (r *run) prove(ctx context.Context) error {
	nodes, err := verify.Cluster(ctx, verify.RunInput{RootDir: r.o.RootDir, Prefix: r.o.Prefix, BinDir: r.o.BinDir,
		Chroot: r.o.RootDir != "/", Timeout: r.o.Timeout})
	if err != nil {
		return r.fail(StepProve, err)
	}
	r.rec.Nodes = nodes
	r.pass(StepProve, nodes)
	return nil
}

// The auth/slurm pieces (SLURM 23.11+): the key a sackd reads, the socket
// client commands ask for credentials.
const (
	SlurmKey   = "/etc/slurm/slurm.key"
	SackSocket = "/run/slurm/sack.socket"
	RunDir     = "/run/slurm"
)

// SourceSackd is the record's source when sackd fetched the configuration.
const SourceSackd = "configless (sackd)"

func (r *run) confPath() string {
	if r.conf != "" {
		return r.conf
	}
	return SiteConf
}

func (r *run) sackdPath() string { return path.Join(r.o.Prefix, "sbin/sackd") }

// startSackd starts the bundle's sackd (chrooted into the root, as root:
// it reads the mounted key) with the controller as its configuration
// server, and waits (15 s at most) for its cached configuration and its
// socket. It stays running after connect: client commands ask it for
// credentials. One already answering on its socket is kept.
func (r *run) startSackd(ctx context.Context) error {
	if d := r.compiledPluginDir(); d != "" {
		if made, err := r.ensurePlugins(d, true); err != nil {
			return err
		} else if made {
			r.pass(StepPlugin, fmt.Sprintf("the compiled-in plugin directory %s linked to the bundle's plugins %s", d, bundlePlugins(r.o.Prefix)))
		}
	}
	r.conf, r.rec.Source = verify.SackdConf, SourceSackd
	if r.sackAnswers() && r.fs.Exists(verify.SackdConf) {
		r.pass(StepConfig, verify.SackdConf+", cached by the sackd already running")
		return nil
	}
	// SLURM reads what it fetches back through /proc/<pid>/fd: a
	// container has /proc; a bare directory tree may not.
	if !r.fs.Exists("/proc/self") {
		return failure.New(failure.Verify, "the root has no /proc mounted: sackd reads the configuration it fetches back through /proc/<pid>/fd").
			WithHint("run connect in the container itself (it has /proc), or mount proc on the root's /proc")
	}
	// sackd caches into /run/slurm/conf and wants /run/slurm to exist.
	if _, err := r.root.Lstat(rel(RunDir)); errors.Is(err, fs.ErrNotExist) {
		if err := r.root.MkdirAll(rel(RunDir), 0o755); err != nil {
			return failure.New(failure.FileSystem, "create %s: %w", RunDir, err)
		}
		r.rec.Dirs = append(r.rec.Dirs, RunDir)
	}
	cmd := exec.CommandContext(ctx, r.sackdPath(), "--conf-server", r.addr)
	attr := &syscall.SysProcAttr{Setsid: true}
	if r.o.RootDir != "/" {
		attr.Chroot = r.o.RootDir
	}
	cmd.SysProcAttr = attr
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run() // sackd daemonizes: the parent returns
	deadline := time.Now().Add(15 * time.Second)
	for err == nil && time.Now().Before(deadline) && !(r.fs.Exists(verify.SackdConf) && r.fs.Exists(SackSocket)) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for sackd: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err == nil && r.fs.Exists(verify.SackdConf) && r.fs.Exists(SackSocket) {
		r.pass(StepConfig, verify.SackdConf+", fetched and cached by the bundle's sackd (it keeps running and follows reconfigurations)")
		return nil
	}
	msg := strings.TrimSpace(out.String())
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "configless"):
		return failure.New(failure.Verify, "configless is disabled on the controller at %s: sackd could not fetch its configuration (%s)", r.addr, firstLine(msg)).
			Suggest(failure.GiveClusterConf)
	case err != nil:
		return failure.New(failure.Verify, "the bundle's sackd failed: %w (%s)", err, firstLine(msg))
	}
	return failure.New(failure.Verify, "the controller at %s rejected the key mounted at %s, or this client is outside its protocol window: sackd fetched no configuration within 15s; %s",
		r.addr, SlurmKey, verify.Window(r.o.Version)).
		WithHint("%s must be the cluster's own slurm.key; if it is, install the client bundle of the controller's SLURM major release", SlurmKey)
}

// sackAnswers reports whether something listens on the root's sack socket.
func (r *run) sackAnswers() bool {
	h, err := r.fs.Resolve(SackSocket)
	if err != nil {
		return false
	}
	c, err := net.DialTimeout("unix", h, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
