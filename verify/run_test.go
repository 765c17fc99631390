package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/sandbox"
	rt "slurm-installer/internal/testkit/rootfstest"
)

// fakeSinfo behaves like a real SLURM client command (docs/DESIGN.md §8): it
// reads slurm.conf (SLURM_CONF, else /etc/slurm/slurm.conf) before its
// flags and dies without one or when PluginDir does not exist. Test*
// keys in the conf make it misbehave.
const fakeSinfo = `package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if os.Getenv("LD_LIBRARY_PATH") != "" || os.Getenv("HOME") != "" || os.Getenv("PATH") != "/usr/local/bin:/usr/bin:/bin" {
		fmt.Fprintln(os.Stderr, "sinfo: fatal: the environment is not a backend's minimal one")
		os.Exit(3)
	}
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		conf = "/etc/slurm/slurm.conf"
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sinfo: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host")
		fmt.Fprintln(os.Stderr, "sinfo: fatal: Could not establish a configuration source")
		os.Exit(1)
	}
	kv := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			kv[strings.ToLower(k)] = v
		}
	}
	if d, err := time.ParseDuration(kv["testsleep"]); err == nil {
		time.Sleep(d)
	}
	if kv["testneedroot"] != "" {
		if _, err := os.Stat("/etc/fixture-root"); err != nil {
			fmt.Fprintln(os.Stderr, "sinfo: fatal: not chrooted into the fixture root")
			os.Exit(4)
		}
	}
	if pd := kv["plugindir"]; pd == "" || kv["clustername"] == "" {
		fmt.Fprintln(os.Stderr, "sinfo: fatal: incomplete slurm.conf")
		os.Exit(1)
	} else if fi, err := os.Stat(pd); err != nil || !fi.IsDir() {
		// What slurm-client 22.05.8 prints.
		fmt.Fprintf(os.Stderr, "sinfo: error: PluginDir: %s: No such file or directory\n", pd)
		fmt.Fprintf(os.Stderr, "sinfo: error: Bad value \"%s\" for PluginDir\n", pd)
		fmt.Fprintln(os.Stderr, "sinfo: fatal: Unable to process configuration file")
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		name := "slurm"
		if kv["testwlm"] != "" {
			name = "slurm-wlm"
		}
		fmt.Println(name + " 22.05.8")
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "-h" && os.Args[2] == "-o" && kv["testzerobytes"] != "" {
		// What a 24.11 client prints against a 22.05 controller.
		fmt.Fprintln(os.Stderr, "slurm_load_partitions: Zero Bytes were transmitted or received")
		os.Exit(1)
	}
	if len(os.Args) == 4 && os.Args[1] == "-h" && os.Args[2] == "-o" && kv["slurmctldhost"] == "up" {
		fmt.Println("node[1-2] idle")
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "show" && os.Args[2] == "config" && kv["testctlversion"] != "" {
		fmt.Println("Configuration data as of 2026-12-01T20:00:00")
		fmt.Println("AccountingStorageType   = (null)")
		fmt.Println("SLURM_VERSION           = " + kv["testctlversion"])
		fmt.Println("SlurmctldHost[0]        = up")
		return
	}
	fmt.Fprintln(os.Stderr, "slurm_load_partitions: Unable to contact slurm controller (connect failure)")
	os.Exit(1)
}
`

// runRoot makes an Alpine-like root with the fake sinfo installed the way
// an install leaves it: <prefix>/bin/sinfo, an ABSOLUTE link in
// /usr/local/bin, <prefix>/lib/slurm. bare leaves out /var.
func runRoot(t *testing.T, sinfo string, bare bool) string {
	t.Helper()
	var root string
	if bare {
		root = rt.RootDir(t)
	} else {
		root = rt.Alpine(t)
	}
	rt.Copy(t, root, sinfo, prefix+"/bin/sinfo")
	rt.Symlink(t, root, prefix+"/bin/sinfo", "/usr/local/bin/sinfo")
	rt.Mkdir(t, root, prefix+"/lib/slurm")
	rt.WriteFile(t, root, "/etc/fixture-root", "")
	return root
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for chroot")
	}
}

// noScratch asserts that RunVersion left nothing behind.
func noScratch(t *testing.T, root string, hadVar bool) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "var/lib/slurm-installer"))
	if err == nil && len(ents) > 0 {
		t.Errorf("left behind in var/lib/slurm-installer: %v", ents)
	}
	if err == nil {
		t.Errorf("var/lib/slurm-installer was created and left")
	}
	if _, err := os.Lstat(filepath.Join(root, "var")); !hadVar && err == nil {
		t.Errorf("/var was created and left")
	}
}

func TestRunVersionChroot(t *testing.T) {
	needRoot(t)
	t.Setenv("LD_LIBRARY_PATH", "/should/not/leak")
	host := platform.GoArch(platform.Host())
	sinfo := goBin(t, host, fakeSinfo)
	tests := []struct {
		name    string
		bare    bool
		conf    string // site /etc/slurm/slurm.conf; "" = none
		command string
		want    string
		timeout time.Duration
		version string
		site    bool
		warn    string
		errs    []string
		hint    string
		fix     []failure.Remedy // remedies the advice must include
		class   failure.Class
	}{
		{name: "throwaway conf", version: "22.05.8", want: "22.05.8"},
		{name: "throwaway conf, no /var in the root", bare: true, version: "22.05.8"},
		{name: "debian's slurm-wlm spelling", conf: "ClusterName=c\nPluginDir=" + prefix + "/lib/slurm\nTestWlm=1\nTestNeedRoot=1\n", version: "22.05.8", site: true},
		{name: "site conf used as it is", conf: "ClusterName=c\nSlurmctldHost=ctl\nPluginDir=" + prefix + "/lib/slurm # ours\nTestNeedRoot=1\n", version: "22.05.8", site: true},
		{name: "version mismatch", want: "23.02.1", version: "22.05.8",
			errs: []string{"SLURM 22.05.8 but 23.02.1 was asked for"}, fix: []failure.Remedy{{Step: failure.Reinstall}}, class: failure.Verify},
		{name: "site PluginDir missing", conf: "ClusterName=c\nPluginDir=/usr/lib/x86_64-linux-gnu/slurm-wlm\n", site: true,
			warn: "PluginDir=/usr/lib/x86_64-linux-gnu/slurm-wlm, which does not exist in the root",
			errs: []string{"exited with status 1", "PluginDir: /usr/lib/x86_64-linux-gnu/slurm-wlm: No such file or directory", "Unable to process configuration file"},
			hint: "the bundle's is " + prefix + "/lib/slurm", class: failure.Verify},
		{name: "incomplete site conf", conf: "# empty\n", site: true, warn: "sets no PluginDir",
			errs: []string{"exited with status 1", "incomplete slurm.conf"}, class: failure.Verify},
		{name: "timeout", conf: "ClusterName=c\nPluginDir=" + prefix + "/lib/slurm\nTestSleep=20s\n", timeout: 300 * time.Millisecond, site: true,
			errs: []string{"did not finish within 300ms"}, class: failure.Verify},
		{name: "missing command", command: "sbatch", errs: []string{"/usr/local/bin/sbatch is not in the root"},
			fix: []failure.Remedy{{Step: failure.Install}, {Step: failure.Reinstall}}, class: failure.Verify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := runRoot(t, sinfo, tc.bare)
			if tc.conf != "" {
				rt.WriteFile(t, root, "/etc/slurm/slurm.conf", tc.conf)
			}
			start := time.Now()
			res, err := RunVersion(context.Background(), RunInput{RootDir: root, Prefix: prefix, BinDir: "/usr/local/bin",
				Command: tc.command, Want: tc.want, Chroot: true, Timeout: tc.timeout})
			if tc.timeout > 0 && time.Since(start) > 5*time.Second {
				t.Errorf("timeout of %s took %s", tc.timeout, time.Since(start))
			}
			noScratch(t, root, !tc.bare)
			if res.Version != tc.version || res.SiteConf != tc.site {
				t.Errorf("result %+v, want version %q, site conf %v", res, tc.version, tc.site)
			}
			if tc.warn != "" && !strings.Contains(strings.Join(res.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q do not say %q", res.Warnings, tc.warn)
			}
			if tc.warn == "" && len(res.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", res.Warnings)
			}
			if tc.errs == nil {
				if err != nil {
					t.Fatalf("RunVersion: %v (hint: %s)", err, failure.HintOf(err))
				}
				if res.Command != "/usr/local/bin/sinfo" || !strings.HasSuffix(res.Output, " 22.05.8") {
					t.Errorf("result %+v", res)
				}
				return
			}
			if err == nil {
				t.Fatalf("RunVersion = %+v, want an error", res)
			}
			if c := failure.ClassOf(err); c != tc.class {
				t.Errorf("class %v, want %v", c, tc.class)
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q does not say %q", err, e)
				}
			}
			if tc.hint != "" && !strings.Contains(failure.HintOf(err), tc.hint) {
				t.Errorf("hint %q does not say %q", failure.HintOf(err), tc.hint)
			}
			wantFix(t, err, tc.fix...)
		})
	}
}

// TestRunVersionMissingLoader runs a glibc command in a musl root: the
// kernel's ENOENT becomes a hint to run `slurm-installer verify`.
func TestRunVersionMissingLoader(t *testing.T) {
	needRoot(t)
	root := runRoot(t, filepath.Join(cBins(t), "hello"), false)
	_, err := RunVersion(context.Background(), RunInput{RootDir: root, Chroot: true})
	if failure.ClassOf(err) != failure.Verify || !strings.Contains(failure.HintOf(err), "the loader or a library is missing") {
		t.Fatalf("RunVersion = %v (hint %q)", err, failure.HintOf(err))
	}
	noScratch(t, root, true)
}

func TestRunVersionCannotExec(t *testing.T) {
	host := platform.Host()
	other := platform.AArch64
	if host == platform.AArch64 {
		other = platform.X86_64
	}
	t.Run("foreign arch", func(t *testing.T) {
		// The binary is tried: with an emulator registered in binfmt_misc
		// (qemu-user-static) the kernel runs it; without, ENOEXEC is the
		// honest "cannot run here".
		root := runRoot(t, goBin(t, platform.GoArch(other), fakeSinfo), false)
		res, err := RunVersion(context.Background(), RunInput{RootDir: root, Chroot: true})
		if emulated(other) {
			if err != nil || res.Version == "" {
				t.Fatalf("RunVersion under binfmt_misc emulation of %s = %+v, %v; want it run", other, res, err)
			}
		} else if !errors.Is(err, ErrCannotExec) || !strings.HasPrefix(err.Error(), "not executed: this "+host+" host cannot run "+other+" binaries (tried:") {
			t.Fatalf("RunVersion = %v, want ErrCannotExec", err)
		}
		noScratch(t, root, true)
	})
	t.Run("chroot needs root", func(t *testing.T) {
		geteuid = func() int { return 1000 }
		unprivileged = func() error {
			return errors.New("an unprivileged user namespace (for chroot) was refused: operation not permitted")
		}
		defer func() { geteuid, unprivileged = os.Geteuid, sandbox.Unprivileged }()
		root := runRoot(t, goBin(t, platform.GoArch(host), fakeSinfo), false)
		_, err := RunVersion(context.Background(), RunInput{RootDir: root, Chroot: true})
		if !errors.Is(err, ErrCannotExec) || !strings.Contains(err.Error(), "needs root privileges") {
			t.Fatalf("RunVersion = %v, want ErrCannotExec", err)
		}
		_, err = Cluster(context.Background(), RunInput{RootDir: root, Chroot: true})
		if failure.ClassOf(err) != failure.Usage {
			t.Fatalf("Cluster without slurm.conf = %v, want a usage error first", err)
		}
	})
}

// TestRunVersionDirect runs without chroot, as for --root /: the paths the
// command sees are host paths.
func TestRunVersionDirect(t *testing.T) {
	root := runRoot(t, goBin(t, platform.GoArch(platform.Host()), fakeSinfo), false)
	plugins := t.TempDir()
	// The command runs as uid 65534, which must reach these host paths.
	for _, d := range []string{plugins, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rt.WriteFile(t, root, "/etc/slurm/slurm.conf", "ClusterName=c\nPluginDir="+plugins+"\n")
	res, err := RunVersion(context.Background(), RunInput{RootDir: root, Want: "22.05.8"})
	if err != nil || res.Version != "22.05.8" || !res.SiteConf {
		t.Fatalf("RunVersion = %+v, %v", res, err)
	}
	// The host's plugin dir is not in the root: that deserves a warning.
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "does not exist in the root") {
		t.Errorf("warnings %q", res.Warnings)
	}
	// Without a site conf, the throwaway one is used and removed; its
	// PluginDir is the in-root prefix, which the host does not have.
	if err := os.Remove(filepath.Join(root, "etc/slurm/slurm.conf")); err != nil {
		t.Fatal(err)
	}
	_, err = RunVersion(context.Background(), RunInput{RootDir: root})
	if err == nil || !strings.Contains(err.Error(), "Bad value") || !strings.Contains(failure.HintOf(err), "PluginDir") {
		t.Fatalf("RunVersion = %v", err)
	}
	noScratch(t, root, true)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunVersion(ctx, RunInput{RootDir: root}); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunVersion with a canceled context = %v", err)
	}
	noScratch(t, root, true)
}

func TestCluster(t *testing.T) {
	needRoot(t)
	sinfo := goBin(t, platform.GoArch(platform.Host()), fakeSinfo)
	tests := []struct {
		name     string
		conf     string
		nodes    string
		scontrol bool
		errs     []string
		hint     string
		fix      []failure.Remedy // remedies the advice must include
		class    failure.Class
	}{
		{name: "no site conf", errs: []string{"the cluster check needs /etc/slurm/slurm.conf"}, class: failure.Usage},
		{name: "controller up", conf: "ClusterName=c\nSlurmctldHost=up\nPluginDir=" + prefix + "/lib/slurm\nTestNeedRoot=1\n",
			nodes: "node[1-2] idle; controller version unknown (/usr/local/bin/scontrol is not in the root"},
		{name: "controller of the same major", conf: "ClusterName=c\nSlurmctldHost=up\nPluginDir=" + prefix + "/lib/slurm\nTestCtlVersion=22.05.8\n", scontrol: true,
			nodes: "node[1-2] idle; controller SLURM 22.05.8, which accepts clients of 20.11 to 22.05: this client (SLURM 22.05.8) is inside that window"},
		{name: "controller too new for this client", conf: "ClusterName=c\nSlurmctldHost=up\nPluginDir=" + prefix + "/lib/slurm\nTestCtlVersion=24.05.1\n", scontrol: true,
			nodes: "node[1-2] idle; controller SLURM 24.05.1, which accepts clients of 23.02 to 24.05: this client (SLURM 22.05.8) is OUTSIDE that window"},
		{name: "protocol mismatch", conf: "ClusterName=c\nSlurmctldHost=up\nPluginDir=" + prefix + "/lib/slurm\nTestZeroBytes=1\n",
			errs: []string{"slurm_load_partitions: Zero Bytes were transmitted or received", "do not speak the same SLURM protocol",
				"this client is SLURM 22.05.8, which can talk to controllers of SLURM 22.05 to 23.11 only"},
			hint: "install the client bundle of the controller's SLURM major release",
			fix:  []failure.Remedy{{Step: failure.InstallVersion, Arg: "<the controller's major, such as 22.05>"}}, class: failure.Verify},
		{name: "controller down", conf: "ClusterName=c\nSlurmctldHost=ctl(10.0.0.1)\nSlurmctldPort=6900\nPluginDir=" + prefix + "/lib/slurm\n",
			errs: []string{"Unable to contact slurm controller"}, hint: "slurmctld (SlurmctldHost=ctl(10.0.0.1) in /etc/slurm/slurm.conf) must be reachable from here on TCP 6900", class: failure.Verify},
		{name: "site PluginDir missing", conf: "ClusterName=c\nSlurmctldHost=up\nPluginDir=/nope\n",
			errs: []string{"Bad value \"/nope\" for PluginDir"}, hint: "PluginDir in slurm.conf must name", class: failure.Verify},
		{name: "slow controller", conf: "ClusterName=c\nSlurmctldHost=up\nPluginDir=" + prefix + "/lib/slurm\nTestSleep=20s\n",
			errs: []string{"did not finish within 300ms"}, class: failure.Verify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := runRoot(t, sinfo, false)
			if tc.scontrol {
				rt.Copy(t, root, sinfo, prefix+"/bin/scontrol")
				rt.Symlink(t, root, prefix+"/bin/scontrol", "/usr/local/bin/scontrol")
			}
			if tc.conf != "" {
				rt.WriteFile(t, root, "/etc/slurm/slurm.conf", tc.conf)
			}
			timeout := time.Duration(0)
			if strings.Contains(tc.conf, "TestSleep") {
				timeout = 300 * time.Millisecond
			}
			nodes, err := Cluster(context.Background(), RunInput{RootDir: root, Chroot: true, Timeout: timeout})
			if tc.errs == nil {
				if err != nil || !strings.HasPrefix(nodes, tc.nodes) {
					t.Fatalf("Cluster = %q, %v; want %q", nodes, err, tc.nodes)
				}
				return
			}
			if failure.ClassOf(err) != tc.class {
				t.Fatalf("Cluster = %q, %v; want class %v", nodes, err, tc.class)
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q does not say %q", err, e)
				}
			}
			if tc.hint != "" && !strings.Contains(failure.HintOf(err), tc.hint) {
				t.Errorf("hint %q does not say %q", failure.HintOf(err), tc.hint)
			}
			wantFix(t, err, tc.fix...)
		})
	}
}

// TestWithHint: a cluster run's failure gets the reachability hint when
// it is about the controller or carries only the generic "run it by hand"
// hint; other advice (a specific hint, or remedies) is kept.
func TestWithHint(t *testing.T) {
	tg := &target{in: RunInput{RootDir: "/srv/root"}, cmd: "/usr/local/bin/sinfo"}
	const reach = "slurmctld must be reachable"
	for _, tc := range []struct {
		name string
		err  *failure.Error
		want string
	}{
		{"generic", failure.New(failure.Verify, "`sinfo` exited with status 1").WithHint("%s", tg.noMore()), reach},
		{"about the controller", failure.New(failure.Verify, "Unable to contact slurm controller").WithHint("something else"), reach},
		{"specific", failure.New(failure.Verify, "`sinfo` exited with status 1: plugin").WithHint("PluginDir in slurm.conf"), "PluginDir in slurm.conf"},
		{"a remedy", failure.New(failure.Verify, "`sinfo` exited with status 1").WithHint("%s", tg.noMore()).Suggest(failure.Reinstall), tg.noMore()},
	} {
		if got := failure.HintOf(tg.withHint(tc.err, reach)); got != tc.want {
			t.Errorf("%s: hint %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSilentFailureHint (issue 23 item 9): a bundle's sinfo that fails
// without a word gets a hint that never tells anyone to run it by hand
// (with chroot, as root, outside the sandbox): it is untrusted and rolled
// back.
func TestSilentFailureHint(t *testing.T) {
	needRoot(t)
	silent := goBin(t, platform.GoArch(platform.Host()), "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(1) }\n")
	root := runRoot(t, silent, false)
	_, err := RunVersion(context.Background(), RunInput{RootDir: root, Chroot: true})
	if failure.ClassOf(err) != failure.Verify {
		t.Fatalf("RunVersion = %v", err)
	}
	hints := []string{failure.HintOf(err), (&target{in: RunInput{RootDir: "/"}, cmd: "/usr/local/bin/sinfo"}).noMore()}
	for _, h := range hints {
		if strings.Contains(h, "chroot ") || strings.Contains(h, "run `") || !strings.Contains(h, "do not run it by hand") {
			t.Errorf("the hint %q tells to run the untrusted command", h)
		}
	}
}

// TestSetupFailureHint (issue 23 item 5): a sandbox that cannot be built
// blames a missing root only for a caller that is not root.
func TestSetupFailureHint(t *testing.T) {
	defer func(old func() int) { geteuid = old }(geteuid)
	cause := fmt.Errorf("%w: make the mount namespace private: invalid argument", sandbox.ErrSetup)
	geteuid = func() int { return 0 }
	err := setupFailed("`/usr/local/bin/sinfo --version`", cause)
	if h := failure.HintOf(err); strings.Contains(h, "needs root") || slices.Contains(failure.Steps(err), failure.VerifyAsRoot) || !strings.Contains(err.Error(), "invalid argument") {
		t.Errorf("as root: %v, hint %q, steps %v", err, h, failure.Steps(err))
	}
	geteuid = func() int { return 1000 }
	wantFix(t, setupFailed("`/usr/local/bin/sinfo --version`", cause), failure.Remedy{Step: failure.VerifyAsRoot})
}

// SIGINT during verification (issue 12 item 8): a context cancelled while
// the command runs gives back the context's error, wrapped and with no
// failure class (the caller maps it to 130/143), at once, with the command
// killed and the throwaway conf removed.
func TestRunCancelledMidRun(t *testing.T) {
	needRoot(t)
	sinfo := goBin(t, platform.GoArch(platform.Host()), fakeSinfo)
	for _, cluster := range []bool{false, true} {
		root := runRoot(t, sinfo, false)
		if cluster {
			rt.WriteFile(t, root, "/etc/slurm/slurm.conf", "ClusterName=c\nSlurmctldHost=up\nPluginDir="+prefix+"/lib/slurm\nTestSleep=20s\n")
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		var err error
		if cluster {
			_, err = Cluster(ctx, RunInput{RootDir: root, Chroot: true})
		} else {
			// No site conf: the throwaway one; make the command slow through it.
			rt.WriteFile(t, root, "/etc/slurm/slurm.conf", "ClusterName=c\nPluginDir="+prefix+"/lib/slurm\nTestSleep=20s\n")
			_, err = RunVersion(ctx, RunInput{RootDir: root, Chroot: true})
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cluster=%v: err = %v, want context.Canceled", cluster, err)
		}
		var fe *failure.Error
		if errors.As(err, &fe) {
			t.Errorf("cluster=%v: a cancelled run carries class %v; it must be left to the caller's signal mapping", cluster, fe.Class)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("cluster=%v: returned after %s", cluster, d)
		}
		noScratch(t, root, true)
	}
}

// emulated: binfmt_misc runs binaries of arch here (an enabled qemu entry).
func emulated(arch string) bool {
	name := map[string]string{platform.AArch64: "qemu-aarch64", platform.X86_64: "qemu-x86_64"}[arch]
	b, err := os.ReadFile("/proc/sys/fs/binfmt_misc/" + name)
	return err == nil && strings.HasPrefix(string(b), "enabled")
}
