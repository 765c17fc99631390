//go:build e2e

package e2e

// Registry mirrors (issue 17), end to end: `pack --out oci://…` pushes the
// real bundle to the real distribution server (Debian's docker-registry 2.8,
// started on a free loopback port), and `--mirrors oci://…` installs it into
// a real root, alone and in mixed lists with AppHub mirrors; plain and with
// htpasswd auth (credentials only from a DOCKER_CONFIG directory).

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slurm-installer/internal/testkit/registrytest"
)

// ociRun runs the installer with a hermetic HOME and the given extra
// environment (DOCKER_CONFIG=...); nothing else can supply credentials.
// ociRun is installer with env added; it fails the test unless the exit
// code is want.
func ociRun(t *testing.T, env []string, want int, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.bin, args...)
	cmd.Dir = t.TempDir()
	base := []string{"SLURM_INSTALLER_LOG_FORMAT=console", "HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir(), "REGISTRY_AUTH_FILE="}
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "DOCKER_CONFIG=") && !strings.HasPrefix(kv, "REGISTRY_AUTH_FILE=") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base, env...)
	r := execute(t, cmd)
	t.Logf("$ slurm-installer %s   # exit %d, %s\n%s%s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond), indent(r.stdout), indent(r.stderr))
	wantExit(t, "slurm-installer "+strings.Join(args, " "), r, want)
	return r
}

// payloadDir is the bundle's payload (bin/, lib/, VERSION) as pack takes it.
func payloadDir(t *testing.T) string {
	t.Helper()
	need(t)
	p := suite.bundle["BUNDLE_PAYLOAD"]
	if p == "" {
		p = filepath.Join(suite.build, "bundle", "payload")
	}
	if _, err := os.Stat(filepath.Join(p, "usr/local/slurm/bin/sinfo")); err == nil {
		return filepath.Join(p, "usr/local/slurm")
	}
	if _, err := os.Stat(filepath.Join(p, "bin/sinfo")); err != nil {
		t.Fatalf("no payload with bin/sinfo at %s", p)
	}
	return p
}

func ociReceipt(t *testing.T, root, mirror string) receipt {
	t.Helper()
	rc := readReceipt(t, root)
	if rc.Mode != "real" || rc.Version != suite.version || rc.Layout != "oci" || rc.Mirror != mirror ||
		!strings.HasPrefix(rc.Source, mirror+":") || !strings.Contains(rc.Source, "@sha256:") {
		t.Fatalf("receipt: mode %q version %q layout %q mirror %q source %q; want real %s oci from %s", rc.Mode, rc.Version, rc.Layout, rc.Mirror, rc.Source, suite.version, mirror)
	}
	// The layer digest vouched for the bytes (a pin, when given, is "pinned");
	// it used to be recorded as "" (no verification stated at all).
	if rc.Verification != "layer-digest" && rc.Verification != "pinned" {
		t.Fatalf("receipt: verification %q, want layer-digest or pinned", rc.Verification)
	}
	return rc
}

func series(v string) string {
	p := strings.Split(v, ".")
	if len(p) < 3 {
		return v
	}
	return p[0] + "." + p[1]
}

func TestRegistryMirror(t *testing.T) {
	need(t)
	reg := registrytest.Start(t, nil)
	mirror := reg.Ref("hpc/slurm-client")
	from := payloadDir(t)

	// Any URL but oci:// is a usage error, and no local "https:" dir appears.
	bad := ociRun(t, nil, 2, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", "https://apphub.example/x")
	bad = ociRun(t, nil, 2, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", "oci://me:hunter22@"+reg.Host+"/x")
	if strings.Contains(bad.stdout+bad.stderr, "hunter22") {
		t.Fatalf("the password from the URL was printed:\n%s", bad)
	}

	p := ociRun(t, nil, 0, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", mirror)
	if !strings.HasPrefix(strings.TrimSpace(p.stdout), mirror+":"+suite.version+"-"+suite.arch+"@sha256:") {
		t.Fatalf("pack printed %q", p.stdout)
	}

	// Exact, series and latest, each into a fresh root; sinfo runs there.
	for _, sel := range []string{suite.version, series(suite.version), "latest"} {
		root := newRoot(t, "glibc")
		ociRun(t, nil, 0, "--root", root, "--mirrors", mirror, "--slurm-version", sel, "--fallback", "fail")
		rc := ociReceipt(t, root, mirror)
		if rc.SHA256 != suite.bundle["BUNDLE_TARBALL_SHA256"] && len(rc.SHA256) != 64 {
			t.Fatalf("receipt sha256 %q", rc.SHA256)
		}
		sinfoVersion(t, root)
	}

	// A wrong --sha256: integrity, exit 5, nothing installed.
	root := newRoot(t, "glibc")
	r := ociRun(t, nil, 5, "--root", root, "--mirrors", mirror, "--sha256", strings.Repeat("0", 64), "--fallback", "fail")
	if _, err := os.Lstat(filepath.Join(root, "usr/local/slurm")); err == nil {
		t.Fatalf("a failed install left usr/local/slurm")
	}
	// A version the registry does not have: not found, exit 4.
	r = ociRun(t, nil, 4, "--root", root, "--mirrors", mirror, "--slurm-version", "99.99.1", "--fallback", "fail")
	if !strings.Contains(r.stderr, "not found") && !strings.Contains(r.stderr, "no tag") {
		t.Fatalf("missing version: the error does not say not found:\n%s", r)
	}
	// A size limit below the layer: refused before the download (exit 6).
	r = ociRun(t, nil, 6, "--root", root, "--mirrors", mirror, "--max-size", "1000", "--fallback", "fail")
	if !strings.Contains(r.stderr, "nothing downloaded") {
		t.Fatalf("size limit: want a refusal before the download:\n%s", r)
	}

	// Mixed lists: a dead AppHub first fails over to the registry; a registry
	// without the bundle first fails over to the AppHub.
	dead := "http://127.0.0.1:" + deadPort(t) + "/"
	root = newRoot(t, "glibc")
	r = ociRun(t, nil, 0, "--root", root, "--mirrors", dead+","+mirror, "--fallback", "fail")
	ociReceipt(t, root, mirror)
	root = newRoot(t, "glibc")
	r = ociRun(t, nil, 0, "--root", root, "--mirrors", reg.Ref("empty/repo")+","+suite.full, "--fallback", "fail")
	if rc := readReceipt(t, root); rc.Layout == "oci" || rc.Mode != "real" {
		t.Fatalf("receipt %+v: want the AppHub", rc)
	}
}

func TestRegistryMirrorAuth(t *testing.T) {
	need(t)
	const user, pass = "publisher", "Reg1stry-Secret"
	reg := registrytest.Start(t, map[string]string{user: pass})
	mirror := reg.Ref("hpc/slurm")
	from := payloadDir(t)
	dir, err := registrytest.DockerConfig(t.TempDir(), reg.Host, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{pass, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	noSecret := func(what, s string) {
		t.Helper()
		for _, x := range secrets {
			if strings.Contains(s, x) {
				t.Fatalf("%s shows a credential:\n%s", what, s)
			}
		}
	}

	// Without credentials: a clear error, exit 4 under --fallback fail.
	r := ociRun(t, nil, 4, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", mirror)
	if !strings.Contains(r.stderr, "docker login") {
		t.Fatalf("pack without credentials: want a failure naming docker login, got %s", r)
	}
	r = ociRun(t, []string{"DOCKER_CONFIG=" + dir}, 0, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", mirror, "--log-level", "debug")
	noSecret("pack output", r.stdout+r.stderr)

	root := newRoot(t, "glibc")
	r = ociRun(t, nil, 4, "--root", root, "--mirrors", mirror, "--fallback", "fail")
	if !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "docker login") {
		t.Fatalf("install without credentials: want 401 and a docker login hint:\n%s", r)
	}
	r = ociRun(t, []string{"DOCKER_CONFIG=" + dir}, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail", "--log-level", "debug", "--json")
	noSecret("install output", r.stdout+r.stderr)
	ociReceipt(t, root, mirror)
	raw, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	noSecret("receipt", string(raw))
	s := ociRun(t, nil, 0, "status", "--json", "--root", root) // issue 22: this exited 1 unnoticed
	noSecret("status", s.stdout+s.stderr)
	sinfoVersion(t, root)

	// REGISTRY_AUTH_FILE (podman's auth.json) names the credentials as well,
	// for pack and for install (the Docker config is empty here).
	auth := "REGISTRY_AUTH_FILE=" + filepath.Join(dir, "config.json")
	r = ociRun(t, []string{auth}, 0, "pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", mirror)
	noSecret("pack output", r.stdout+r.stderr)
	root2 := newRoot(t, "glibc")
	r = ociRun(t, []string{auth}, 0, "--root", root2, "--mirrors", mirror, "--fallback", "fail")
	noSecret("install output", r.stdout+r.stderr)
}
