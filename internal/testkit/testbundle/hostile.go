package testbundle

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Hostile is what a hostile command knows and tries (issue 12: a bundle
// that passed its checksum is not harmless).
type Hostile struct {
	Version  string // printed for --version, like a real sinfo
	HostFile string // an absolute host path it tries to create
	Token    string // in the argv of the sleeper it leaves behind, for finding it
	Connect  string // host:port it tries to connect to ("" = none)
	// Secret is in the command line of a process outside the sandbox (the
	// installer's mirror password): it looks for it in every
	// /proc/PID/cmdline it can read.
	Secret string
	// Writes are more in-root paths it tries to create (in a tmpfs /tmp,
	// /dev/shm, a cache mount), beside /tmp and /etc.
	Writes []string
}

// BuildHostile builds a static fake sinfo that, on every run and before it
// answers like [FakeSinfo]: prints its uid, gid, capabilities and
// no_new_privs ("ID uid=... caps=... bnd=... nnp=..."), tries to create
// h.HostFile (directly, and climbing out with ".."), a file in the root's
// /tmp and /etc and each of h.Writes, and prints any content of /etc/shadow
// it could read ("SHADOW:..."), reads /proc: "/proc/1/cmdline" when it is
// not its own, its parent's cmdline and environ, and every cmdline holding
// h.Secret ("PROC ..."), tries h.Connect ("CONNECT ok|err"), and starts a child in
// a new session that sleeps 300 s (argv[1] "sleeper-<Token>"), without
// waiting for it. When it ran privileged, wrote a file or read the shadow
// file, --version prints "BREACH: what" instead of the version. It returns
// the path of the binary.
func BuildHostile(dir string, h Hostile) (string, error) {
	src := filepath.Join(dir, "hostile-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(hostileSrc), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hostile\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hostile-sinfo")
	ld := fmt.Sprintf("-s -w -X main.version=%s -X main.hostFile=%s -X main.token=%s -X main.connect=%s -X main.secret=%s -X main.writes=%s",
		h.Version, h.HostFile, h.Token, h.Connect, h.Secret, strings.Join(h.Writes, ","))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ld, "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the hostile sinfo: %v: %s", err, b)
	}
	return out, nil
}

const hostileSrc = `package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

var version, hostFile, token, connect, secret, writes string

// readProc reports what of /proc outside itself it could read.
func readProc() []string {
	var breach []string
	self, _ := os.ReadFile("/proc/self/cmdline")
	if b, err := os.ReadFile("/proc/1/cmdline"); err == nil && string(b) != string(self) {
		fmt.Fprintf(os.Stderr, "PROC /proc/1/cmdline: %q\n", b)
		breach = append(breach, "read /proc/1/cmdline")
	} else {
		fmt.Fprintf(os.Stderr, "PROC /proc/1/cmdline: own or unreadable (%v)\n", err)
	}
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if pp, ok := strings.CutPrefix(l, "PPid:"); ok && strings.TrimSpace(pp) != "0" {
				for _, f := range []string{"cmdline", "environ"} {
					p := "/proc/" + strings.TrimSpace(pp) + "/" + f
					if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
						fmt.Fprintf(os.Stderr, "PROC %s: %q\n", p, b)
						breach = append(breach, "read the parent's "+f)
					}
				}
			}
		}
	}
	ents, err := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		n++
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && secret != "" && strings.Contains(string(b), secret) {
			fmt.Fprintf(os.Stderr, "PROC secret in /proc/%s/cmdline\n", e.Name())
			breach = append(breach, "read the secret in another process's command line")
		}
	}
	fmt.Fprintf(os.Stderr, "PROC %d processes visible (%v)\n", n, err)
	return breach
}

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "sleeper-") {
		time.Sleep(300 * time.Second)
		os.WriteFile(hostFile+".survivor", []byte("I survived\n"), 0o644)
		return
	}
	var hdr = struct{ v uint32; pid int32 }{0x20080522, 0}
	var data [2]struct{ eff, perm, inh uint32 }
	syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	bnd := 0
	for c := 0; c < 64; c++ {
		if r, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 23, uintptr(c), 0); e == 0 && r == 1 {
			bnd++
		}
	}
	nnp, _, _ := syscall.RawSyscall(syscall.SYS_PRCTL, 39, 0, 0)
	var breach []string
	if os.Geteuid() == 0 || data[0].eff|data[0].perm|data[0].inh|data[1].eff|data[1].perm|data[1].inh != 0 || bnd != 0 || nnp != 1 {
		breach = append(breach, "privileged")
	}
	fmt.Fprintf(os.Stderr, "ID uid=%d euid=%d gid=%d caps=%x/%x/%x bnd=%d nnp=%d\n", os.Getuid(), os.Geteuid(), os.Getgid(),
		data[0].eff, data[0].perm, data[0].inh, bnd, nnp)
	up := strings.Repeat("../", 30)
	paths := []string{hostFile, up + hostFile, "/tmp/pwned-in-root", "/etc/pwned-in-root"}
	if writes != "" {
		paths = append(paths, strings.Split(writes, ",")...)
	}
	for _, p := range paths {
		err := os.WriteFile(p, []byte("pwned\n"), 0o644)
		fmt.Fprintf(os.Stderr, "WRITE %s: %v\n", p, err)
		if err == nil {
			breach = append(breach, "wrote "+p)
		}
	}
	if b, err := os.ReadFile("/etc/shadow"); err == nil {
		fmt.Fprintf(os.Stderr, "SHADOW:%s\n", b)
		breach = append(breach, "read /etc/shadow")
	} else {
		fmt.Fprintf(os.Stderr, "READ /etc/shadow: %v\n", err)
	}
	breach = append(breach, readProc()...)
	if connect != "" {
		c, err := net.DialTimeout("tcp", connect, 2*time.Second)
		if err == nil {
			c.Close()
			fmt.Fprintln(os.Stderr, "CONNECT ok")
		} else {
			fmt.Fprintln(os.Stderr, "CONNECT err", err)
		}
	}
	child := exec.Command(os.Args[0], "sleeper-"+token)
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr // it holds the output pipes open
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "FORK", err)
	} else {
		fmt.Fprintln(os.Stderr, "FORK ok")
	}
	for _, a := range os.Args[1:] {
		if a == "--version" {
			if len(breach) > 0 { // make the verification run fail loudly
				fmt.Printf("BREACH: %s\n", strings.Join(breach, "; "))
				return
			}
			fmt.Printf("slurm %s\n", version)
			return
		}
	}
	fmt.Println("NODELIST STATE")
}
`
