//go:build e2e && docker

package e2e

// `make e2e-docker` (issue 16): `RUN slurm-installer` in a real Docker engine.
// A private dockerd (scripts/dockerd.sh) that cannot reach anything — no
// bridge, no iptables, HTTP(S)_PROXY=http://127.0.0.1:9 — builds images whose
// bases are `docker import`s of the roots scripts/mkroot.sh makes; builds use
// --network host so RUN steps reach the loopback nginx mirrors, and --pull=false.
// Dockerfile.example is built as written (BuildKit), with the Go build stage
// replaced by a prebuilt installer image through its INSTALLER_IMAGE argument.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	dockerCLI      = "/usr/bin/docker" // Debian's client: BuildKit built in, no plugins needed
	installerImage = "e2e/slurm-installer:test"
	glibcImage     = "e2e/glibc:12"
	// glibcTrixieImage: a Debian 13 root (mkroot.sh glibc-trixie), for the 24.11 bundle.
	glibcTrixieImage = "e2e/glibc:13"
	// Dockerfile.example says `FROM alpine:3.20`; in the private daemon that name is the
	// Alpine-like musl root (never pulled: the daemon cannot reach a registry).
	alpineImage = "alpine:3.20"
)

var dk struct {
	once   sync.Once
	err    error
	state  string // the daemon's temp dir: data root, exec root, socket, pid file, log
	host   string // DOCKER_HOST
	logs   string // where build logs are kept: $E2E_BUILD/e2e-run/docker
	confIn string // a minimal slurm.conf to mount at /etc/slurm/slurm.conf, as a site would
	// runtimeBin is the runtime build (-tags runtime) next to $SLURM_INSTALLER, as `make build`
	// writes it: bin/slurm-installer-runtime-linux-<arch>; the installer image's /slurm-installer-runtime.
	runtimeBin            string
	runtimeSize, fullSize int64
}

// dockerd starts the private daemon and the base images once.
func dockerd(t *testing.T) {
	t.Helper()
	need(t)
	dk.once.Do(func() { dk.err = dockerSetup() })
	if dk.err != nil {
		t.Fatal(dk.err)
	}
}

func dockerSetup() error {
	t0 := time.Now()
	if _, err := script(context.Background(), "dockerd.sh", "deps"); err != nil {
		return err
	}
	st, err := os.MkdirTemp("", "e2e-dockerd.")
	if err != nil {
		return err
	}
	dk.state = st
	dk.logs = filepath.Join(suite.state, "docker")
	_ = os.RemoveAll(dk.logs)
	if err := os.MkdirAll(dk.logs, 0o755); err != nil {
		return err
	}
	// scripts/e2e-docker.sh stops whatever this file names on its EXIT trap, in case this
	// process dies without running its teardowns.
	_ = os.WriteFile(filepath.Join(suite.state, "dockerd.dir"), []byte(st+"\n"), 0o644)
	addTeardown("dockerd "+st, func() {
		if b, err := os.ReadFile(filepath.Join(st, "dockerd.log")); err == nil {
			_ = os.WriteFile(filepath.Join(dk.logs, "dockerd.log"), b, 0o644)
		}
		if _, err := script(context.Background(), "dockerd.sh", "stop", st); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping dockerd: %v\n", err)
		}
	})
	out, err := script(context.Background(), "dockerd.sh", "start", st)
	if err != nil {
		return err
	}
	dk.host = strings.TrimPrefix(strings.TrimSpace(lastLine(out)), "DOCKER_HOST=")
	t1 := time.Now()

	// Base images: docker import of the roots the suite uses everywhere else.
	for _, b := range []struct{ kind, image string }{{"glibc", glibcImage}, {"musl", alpineImage}} {
		if err := importRoot(b.kind, b.image); err != nil {
			return err
		}
	}

	// The installer image, as Dockerfile.example's `installer` stage makes it (FROM scratch,
	// just the full binary and the runtime build), from the prebuilt static binaries instead
	// of a Go build in the image.
	ctx := filepath.Join(suite.state, "docker-installer-ctx")
	_ = os.RemoveAll(ctx)
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		return err
	}
	bin, err := os.ReadFile(suite.bin)
	if err != nil {
		return err
	}
	dk.runtimeBin = filepath.Join(filepath.Dir(suite.bin), "slurm-installer-runtime-linux-"+suite.debArch)
	rbin, err := os.ReadFile(dk.runtimeBin)
	if err != nil {
		return fmt.Errorf("no runtime build next to %s (`make build` writes %s; Dockerfile.example's installer image holds both): %w",
			suite.bin, filepath.Base(dk.runtimeBin), err)
	}
	dk.fullSize, dk.runtimeSize = int64(len(bin)), int64(len(rbin))
	if dk.runtimeSize >= dk.fullSize {
		return fmt.Errorf("the runtime build %s (%d bytes) is not smaller than %s (%d bytes)", dk.runtimeBin, dk.runtimeSize, suite.bin, dk.fullSize)
	}
	if err := os.WriteFile(filepath.Join(ctx, "slurm-installer"), bin, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctx, "slurm-installer-runtime"), rbin, 0o755); err != nil {
		return err
	}
	df := "FROM scratch\nCOPY slurm-installer slurm-installer-runtime /\nENTRYPOINT [\"/slurm-installer\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		return err
	}
	if b := dockerBuildNoT("installer-image", true, ctx, filepath.Join(ctx, "Dockerfile"), "-t", installerImage); b.code != 0 {
		return fmt.Errorf("building %s: %s", installerImage, tail(b.out, 30))
	}
	dk.confIn = filepath.Join(suite.state, "docker-slurm.conf")
	if err := os.WriteFile(dk.confIn, suite.verifyCfg, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "e2e: docker: dockerd ready in %s; base images and %s in %s more\n",
		t1.Sub(t0).Round(time.Millisecond), installerImage, time.Since(t1).Round(time.Millisecond))
	return nil
}

// importRoot makes image from a root of kind that scripts/mkroot.sh makes (docker import).
func importRoot(kind, image string) error {
	dir := filepath.Join(suite.state, "docker-root-"+kind)
	_ = os.RemoveAll(dir)
	if _, err := script(context.Background(), "mkroot.sh", kind, dir, suite.build); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tar := exec.Command("tar", "-C", dir, "--numeric-owner", "-c", ".")
	imp := dockerCommand(context.Background(), nil, "import", "-", image)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return err
	}
	imp.Stdin = pipe
	var ierr bytes.Buffer
	imp.Stderr = &ierr
	if err := tar.Start(); err != nil {
		return err
	}
	if err := imp.Run(); err != nil {
		_ = tar.Wait()
		return fmt.Errorf("docker import %s: %v: %s", image, err, ierr.String())
	}
	if err := tar.Wait(); err != nil {
		return fmt.Errorf("tar of %s: %w", dir, err)
	}
	return nil
}

// dockerCommand is the docker client talking to the private daemon only.
func dockerCommand(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = append(cleanEnv(), "DOCKER_HOST="+dk.host, "DOCKER_CONFIG="+filepath.Join(dk.state, "client"))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// dockerRun runs `docker ARGS` and returns what it did.
func dockerRun(t *testing.T, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := execute(t, dockerCommand(ctx, nil, args...))
	t.Logf("$ docker %s   # exit %d, %s\n%s%s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond), indent(r.stdout), indent(r.stderr))
	return r
}

// built is one finished docker build.
type built struct {
	code int // the failing RUN step's exit code (parsed from the log), or the client's
	out  string
	took time.Duration
}

var stepExit = regexp.MustCompile(`(?:executor failed running .*: exit code: |returned a non-zero code: )(\d+)`)

// dockerBuildNoT runs `docker build --pull=false --network host` with BuildKit
// or the classic builder and keeps the log in dk.logs/NAME.log.
func dockerBuildNoT(name string, buildkit bool, ctxDir, dockerfile string, args ...string) built {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := []string{"DOCKER_BUILDKIT=0"}
	argv := []string{"build", "--pull=false", "--network", "host", "-f", dockerfile}
	if buildkit {
		env = []string{"DOCKER_BUILDKIT=1", "BUILDKIT_PROGRESS=plain"}
		argv = append(argv, "--progress", "plain")
	}
	argv = append(append(argv, args...), ctxDir)
	cmd := dockerCommand(ctx, env, argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	b := built{out: out.String(), took: time.Since(t0)}
	if err != nil {
		b.code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.code = ee.ExitCode()
		}
		if m := stepExit.FindAllStringSubmatch(b.out, -1); m != nil {
			b.code, _ = strconv.Atoi(m[len(m)-1][1])
		}
	}
	builder := map[bool]string{true: "BuildKit", false: "classic builder"}[buildkit]
	hdr := fmt.Sprintf("$ DOCKER_BUILDKIT=%d docker %s\n# %s, step exit %d, %s\n", map[bool]int{true: 1, false: 0}[buildkit],
		strings.Join(argv, " "), builder, b.code, b.took.Round(time.Millisecond))
	_ = os.WriteFile(filepath.Join(dk.logs, name+".log"), []byte(hdr+b.out), 0o644)
	return b
}

func dockerBuild(t *testing.T, name string, buildkit bool, ctxDir, dockerfile string, args ...string) built {
	t.Helper()
	b := dockerBuildNoT(name, buildkit, ctxDir, dockerfile, args...)
	builder := map[bool]string{true: "BuildKit", false: "classic"}[buildkit]
	t.Logf("docker build (%s) %s: step exit %d in %s; log %s\n%s", builder, strings.Join(args, " "), b.code,
		b.took.Round(time.Millisecond), filepath.Join(dk.logs, name+".log"), indent(tail(b.out, 25)))
	return b
}

func wantBuild(t *testing.T, what string, b built, code int) {
	t.Helper()
	if b.code != code {
		t.Fatalf("%s: want the build's RUN step to exit %d, got %d\n%s", what, code, b.code, tail(b.out, 60))
	}
}

func wantLog(t *testing.T, what, log string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(log, s) {
			t.Errorf("%s: the build log should contain %q\n%s", what, s, tail(log, 40))
		}
	}
}

// policyDockerfile is a Dockerfile both builders take (no RUN --mount): the
// installer image's binary into BASE, then one RUN step.
const policyDockerfile = `ARG BASE
FROM ` + installerImage + ` AS installer
FROM ${BASE}
COPY --from=installer /slurm-installer /usr/local/sbin/slurm-installer
ARG MIRRORS
ARG POLICY=demo
RUN slurm-installer --mirrors "$MIRRORS" --fallback "$POLICY"
`

// imageRuns checks a built image with a real install the way a backend uses
// it: sinfo exec'd directly (the site's slurm.conf mounted, as at run time),
// status --json, and sinfo from a login shell.
func imageRuns(t *testing.T, image string) {
	t.Helper()
	conf := dk.confIn + ":/etc/slurm/slurm.conf:ro"
	r := dockerRun(t, "run", "--rm", "--network", "none", "-v", conf, image, "sinfo", "--version")
	wantExit(t, "docker run IMAGE sinfo --version", r, 0)
	checkVersionLine(t, strings.TrimSpace(r.stdout))
	r = dockerRun(t, "run", "--rm", "--network", "none", image, "slurm-installer", "status", "--json")
	wantExit(t, "docker run IMAGE slurm-installer status --json", r, 0)
	var s status
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r)
	}
	if !s.Installed || s.Demo || s.Mode != "real" || s.Version != suite.version {
		t.Fatalf("status --json in %s: %+v; want a real install of %s", image, s, suite.version)
	}
	r = dockerRun(t, "run", "--rm", "--network", "none", "-v", conf, image, "sh", "-lc", "command -v sinfo; sinfo --version")
	wantExit(t, "docker run IMAGE sh -lc 'sinfo --version'", r, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || lines[0] != "/usr/local/bin/sinfo" {
		t.Fatalf("login shell in %s: want /usr/local/bin/sinfo, then its version; got %s", image, r)
	}
	checkVersionLine(t, lines[1])
}

// imageDemo checks an image that recorded demo mode.
func imageDemo(t *testing.T, image string) {
	t.Helper()
	r := dockerRun(t, "run", "--rm", "--network", "none", image, "slurm-installer", "status", "--json")
	wantExit(t, "docker run IMAGE slurm-installer status --json (demo)", r, 3)
	var s status
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r)
	}
	loader := map[string]string{"x86_64": "ld-linux-x86-64.so.2", "aarch64": "ld-linux-aarch64.so.1"}[suite.arch]
	if !s.Demo || !strings.Contains(s.Reason, loader) {
		t.Fatalf("status --json in %s: %+v; want demo with the missing glibc loader as reason", image, s)
	}
	r = dockerRun(t, "run", "--rm", "--network", "none", image, "sh", "-lc", `echo "demo=$SLURM_DEMO_MODE"`)
	wantExit(t, "docker run IMAGE sh -lc 'echo $SLURM_DEMO_MODE'", r, 0)
	if strings.TrimSpace(r.stdout) != "demo=1" {
		t.Fatalf("a login shell in the demo image should see SLURM_DEMO_MODE=1; got %s", r)
	}
}

// runtimeInImage checks an image built from Dockerfile.example's backend stage: the
// slurm-installer on its PATH is the runtime build (its version says so, the file has the
// runtime binary's size, not the full one's), the full binary mounted for the install step
// left nothing at /usr/local/bin/slurm-installer, and an install with it is a usage error
// (exit 2) naming the full binary.
func runtimeInImage(t *testing.T, image string) {
	t.Helper()
	r := dockerRun(t, "run", "--rm", "--network", "none", image, "slurm-installer", "version")
	wantExit(t, "docker run "+image+" slurm-installer version", r, 0)
	if !strings.Contains(r.stdout, "runtime build") {
		t.Errorf("%s: `slurm-installer version` should say \"runtime build\": %s", image, r)
	}
	r = dockerRun(t, "run", "--rm", "--network", "none", image, "sh", "-c",
		"command -v slurm-installer; stat -c %s /usr/local/sbin/slurm-installer; test ! -e /usr/local/bin/slurm-installer")
	wantExit(t, "docker run "+image+" sh -c 'command -v slurm-installer; stat ...; test ! -e /usr/local/bin/slurm-installer'", r, 0)
	want := fmt.Sprintf("/usr/local/sbin/slurm-installer\n%d", dk.runtimeSize)
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Errorf("%s: want the runtime build (%d bytes; the full binary is %d) at /usr/local/sbin/slurm-installer, got %q",
			image, dk.runtimeSize, dk.fullSize, got)
	}
	r = dockerRun(t, "run", "--rm", "--network", "none", image, "slurm-installer", "install", "--repair")
	wantExit(t, "docker run "+image+" slurm-installer install --repair (the runtime build)", r, 2)
	if out := r.stdout + r.stderr; !strings.Contains(out, "runtime build") || !strings.Contains(out, "full slurm-installer") {
		t.Errorf("%s: install --repair with the runtime build should say it is the runtime build and name the full binary: %s", image, r)
	}
	t.Logf("%s: %d bytes; its slurm-installer is the runtime build, %d bytes (the full binary: %d, %d more)",
		image, imageSize(t, image), dk.runtimeSize, dk.fullSize, dk.fullSize-dk.runtimeSize)
}

// noMirrorsInConfig asserts the build-time mirror URLs left no trace in the
// image's config (environment, labels, entrypoint...).
func noMirrorsInConfig(t *testing.T, image string, mirrors ...string) {
	t.Helper()
	r := dockerRun(t, "image", "inspect", "--format", "{{json .Config}}", image)
	wantExit(t, "docker image inspect", r, 0)
	if strings.Contains(r.stdout, "SLURM_INSTALLER_") {
		t.Errorf("the final image's config holds SLURM_INSTALLER_* settings: %s", r.stdout)
	}
	for _, m := range mirrors {
		if strings.Contains(r.stdout, strings.TrimSuffix(m, "/")) {
			t.Errorf("the final image's config holds the build-time mirror %s: %s", m, r.stdout)
		}
	}
}

// TestDocker is one sequence: the builds share the daemon, the images and
// (for Dockerfile.example) the BuildKit cache mount, in this order.
func TestDocker(t *testing.T) {
	dockerd(t)
	full := suite.full
	dead := "http://127.0.0.1:" + deadPort(t) + "/"
	dead2 := "http://127.0.0.1:" + deadPort(t) + "/"
	pctx := t.TempDir()
	pdf := filepath.Join(pctx, "Dockerfile")
	writeFile(t, pctx, "Dockerfile", []byte(policyDockerfile))

	t.Run("InstallerImage", func(t *testing.T) {
		want := installer(t, 0, "version")
		r := dockerRun(t, "run", "--rm", "--network", "none", installerImage, "version")
		wantExit(t, "docker run "+installerImage+" version", r, 0)
		if strings.TrimSpace(r.stdout) != strings.TrimSpace(want.stdout) {
			t.Fatalf("the installer image says %q, the binary %q", r.stdout, want.stdout)
		}
		r = dockerRun(t, "run", "--rm", "--network", "none", "--entrypoint", "/slurm-installer-runtime", installerImage, "version")
		wantExit(t, "docker run --entrypoint /slurm-installer-runtime "+installerImage+" version", r, 0)
		if !strings.Contains(r.stdout, "runtime build") {
			t.Fatalf("the installer image's /slurm-installer-runtime should say \"runtime build\": %s", r)
		}
	})

	// Default and strict policies on the glibc base, both builders.
	t.Run("GlibcDefaultClassic", func(t *testing.T) {
		b := dockerBuild(t, "glibc-default-classic", false, pctx, pdf, "--build-arg", "BASE="+glibcImage,
			"--build-arg", "MIRRORS="+full, "-t", "e2e/glibc-default")
		wantBuild(t, "classic build, glibc base, default policy", b, 0)
		wantLog(t, "glibc default", b.out, "checksum verified", "SLURM client installed", "sinfo --version ran in the target")
		imageRuns(t, "e2e/glibc-default")
	})
	t.Run("GlibcStrictBuildKit", func(t *testing.T) {
		b := dockerBuild(t, "glibc-strict-buildkit", true, pctx, pdf, "--build-arg", "BASE="+glibcImage,
			"--build-arg", "MIRRORS="+full, "--build-arg", "POLICY=fail", "-t", "e2e/glibc-strict")
		wantBuild(t, "BuildKit build, glibc base, strict policy", b, 0)
		wantLog(t, "glibc strict", b.out, "SLURM client installed")
		imageRuns(t, "e2e/glibc-strict")
	})
	t.Run("FailoverPastDeadMirror", func(t *testing.T) {
		b := dockerBuild(t, "glibc-failover-buildkit", true, pctx, pdf, "--build-arg", "BASE="+glibcImage,
			"--build-arg", "MIRRORS="+dead+","+full, "--build-arg", "POLICY=fail", "--no-cache", "-t", "e2e/glibc-failover")
		wantBuild(t, "fail-over past a dead mirror", b, 0)
		wantLog(t, "fail-over", b.out, "SLURM client installed", strings.TrimSuffix(full, "/"))
		r := dockerRun(t, "run", "--rm", "--network", "none", "e2e/glibc-failover", "slurm-installer", "status", "--json")
		wantExit(t, "status --json", r, 0)
		if !strings.Contains(r.stdout, strings.TrimSuffix(full, "/")) {
			t.Errorf("status should name the live mirror %s as the source:\n%s", full, r.stdout)
		}
		b = dockerBuild(t, "glibc-dead-strict-classic", false, pctx, pdf, "--build-arg", "BASE="+glibcImage,
			"--build-arg", "MIRRORS="+dead+","+dead2, "--build-arg", "POLICY=fail", "--no-cache")
		wantBuild(t, "strict build with every mirror dead", b, 4)
	})

	// The Alpine-like base and the plain glibc bundle: preflight refuses it.
	t.Run("AlpineStrictClassic", func(t *testing.T) {
		b := dockerBuild(t, "alpine-strict-classic", false, pctx, pdf, "--build-arg", "BASE="+alpineImage,
			"--build-arg", "MIRRORS="+full, "--build-arg", "POLICY=fail")
		wantBuild(t, "classic build, Alpine-like base, glibc bundle, strict", b, 8)
		wantLog(t, "alpine strict", b.out, "missing loader /lib64/ld-linux-x86-64.so.2", "apk add gcompat")
	})
	t.Run("AlpineDefaultBuildKit", func(t *testing.T) {
		b := dockerBuild(t, "alpine-default-buildkit", true, pctx, pdf, "--build-arg", "BASE="+alpineImage,
			"--build-arg", "MIRRORS="+full, "-t", "e2e/alpine-demo")
		wantBuild(t, "BuildKit build, Alpine-like base, glibc bundle, default", b, 0)
		wantLog(t, "alpine default", b.out, "DEMO MODE recorded", "apk add gcompat")
		imageDemo(t, "e2e/alpine-demo")
	})

	// A self-contained bundle on the Alpine-like base: the real thing.
	scDir, scTGZ := packSelfContained(t)
	sc := serve(t, "docker-sc", scDir, "html")
	t.Run("AlpineSelfContainedClassic", func(t *testing.T) {
		b := dockerBuild(t, "alpine-selfcontained-classic", false, pctx, pdf, "--build-arg", "BASE="+alpineImage,
			"--build-arg", "MIRRORS="+sc, "--build-arg", "POLICY=fail", "-t", "e2e/alpine-sc")
		wantBuild(t, "classic build, Alpine-like base, self-contained bundle, strict", b, 0)
		wantLog(t, "alpine self-contained", b.out, "SLURM client installed")
		imageRuns(t, "e2e/alpine-sc")
	})

	// Dockerfile.example as written (BuildKit: it has RUN --mount), the repository as its
	// context; only the Go build stage is swapped for the prebuilt installer image.
	ex := filepath.Join(suite.repo, "Dockerfile.example")
	exArgs := func(tag string, extra ...string) []string {
		a := []string{"--build-arg", "INSTALLER_IMAGE=" + installerImage}
		if tag != "" {
			a = append(a, "-t", tag)
		}
		return append(a, extra...)
	}
	t.Run("ExampleNoSyntaxLine", func(t *testing.T) {
		b, err := os.ReadFile(ex)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(l), " ", ""), "#syntax=") {
				t.Errorf("Dockerfile.example has %q: BuildKit would pull that frontend image", l)
			}
			// a registry host is a first path component with a dot or a port, or localhost
			if f := strings.Fields(l); len(f) >= 2 && strings.EqualFold(f[0], "FROM") && strings.Contains(f[1], "/") &&
				(strings.ContainsAny(strings.SplitN(f[1], "/", 2)[0], ".:") || strings.SplitN(f[1], "/", 2)[0] == "localhost") {
				t.Errorf("Dockerfile.example names a registry host in %q", l)
			}
		}
		if !strings.Contains(string(b), "--target backend") {
			t.Errorf("Dockerfile.example's header command should give --target backend")
		}
	})
	t.Run("ExampleBackendDemo", func(t *testing.T) {
		b := dockerBuild(t, "example-backend-plain", true, suite.repo, ex, exArgs("e2e/example-demo",
			"--target", "backend", "--build-arg", "APPHUB_MIRRORS="+full)...)
		wantBuild(t, "Dockerfile.example --target backend, glibc bundle", b, 0)
		wantLog(t, "example backend (plain bundle)", b.out, "DEMO MODE recorded")
		if strings.Contains(b.out, "golang") {
			t.Errorf("the build stage was resolved although INSTALLER_IMAGE replaces it:\n%s", tail(b.out, 40))
		}
		imageDemo(t, "e2e/example-demo")
		runtimeInImage(t, "e2e/example-demo")
		noMirrorsInConfig(t, "e2e/example-demo", full)
	})
	t.Run("ExampleBackendSelfContained", func(t *testing.T) {
		b := dockerBuild(t, "example-backend-selfcontained", true, suite.repo, ex, exArgs("e2e/example-backend",
			"--target", "backend", "--build-arg", "APPHUB_MIRRORS="+sc)...)
		wantBuild(t, "Dockerfile.example --target backend, self-contained bundle", b, 0)
		wantLog(t, "example backend", b.out, "SLURM client installed")
		imageRuns(t, "e2e/example-backend")
		runtimeInImage(t, "e2e/example-backend")
		noMirrorsInConfig(t, "e2e/example-backend", sc)
	})
	t.Run("ExampleCacheMountEveryMirrorDown", func(t *testing.T) {
		// Other mirrors re-run the RUN step; the cache mount keeps what the last build verified.
		// (Not --no-cache: on Docker 20.10 that also gives the step a fresh, empty cache mount.)
		b := dockerBuild(t, "example-backend-cache", true, suite.repo, ex, exArgs("e2e/example-cached",
			"--target", "backend", "--build-arg", "APPHUB_MIRRORS="+dead+","+dead2)...)
		wantBuild(t, "Dockerfile.example --target backend with every mirror down", b, 0)
		wantLog(t, "cache mount", b.out, "using the bundle cached for this version", "SLURM client installed")
		imageRuns(t, "e2e/example-cached")
		runtimeInImage(t, "e2e/example-cached")
	})
	t.Run("ExampleStrict", func(t *testing.T) {
		b := dockerBuild(t, "example-strict-plain", true, suite.repo, ex, exArgs("",
			"--target", "backend-strict", "--build-arg", "APPHUB_MIRRORS="+full)...)
		noRequireChecksum(t, b)
		wantBuild(t, "Dockerfile.example --target backend-strict, glibc bundle on Alpine", b, 8)
		wantLog(t, "example strict (plain)", b.out, "apk add gcompat")

		b = dockerBuild(t, "example-strict-selfcontained", true, suite.repo, ex, exArgs("e2e/example-strict",
			"--target", "backend-strict", "--build-arg", "APPHUB_MIRRORS="+sc)...)
		wantBuild(t, "Dockerfile.example --target backend-strict, self-contained bundle", b, 0)
		imageRuns(t, "e2e/example-strict")
		noMirrorsInConfig(t, "e2e/example-strict", sc)

		// A mirror that publishes no checksum at all: the gate refuses the bundle.
		bare := filepath.Join(t.TempDir(), "bare")
		name := "slurm-client-latest-" + suite.arch + "-alpine.tar.gz"
		writeFile(t, bare, "pkgs/slurm-apk/.keep", nil)
		data, err := os.ReadFile(scTGZ)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, bare, "pkgs/slurm-apk/"+name, data)
		bareURL := serve(t, "docker-bare", bare, "html")
		b = dockerBuild(t, "example-strict-nochecksum", true, suite.repo, ex, exArgs("",
			"--target", "backend-strict", "--build-arg", "APPHUB_MIRRORS="+bareURL)...)
		wantBuild(t, "Dockerfile.example --target backend-strict, no checksum published", b, 5)
	})
	// Issue 25: Dockerfile.example's backend-slim stage mounts the installer for its one RUN
	// step: the image has a working client, no installer binary in any layer, and is at most
	// 2 MB larger than a COPY --from image of the same client on the same base.
	t.Run("ExampleSlimNoInstallerInImage", func(t *testing.T) {
		b := dockerBuild(t, "example-slim", true, suite.repo, ex, exArgs("e2e/example-slim",
			"--target", "backend-slim", "--build-arg", "APPHUB_MIRRORS="+sc)...)
		noRequireChecksum(t, b)
		wantBuild(t, "Dockerfile.example --target backend-slim, self-contained bundle", b, 0)
		wantLog(t, "example slim", b.out, "SLURM client installed", "sinfo --version ran in the target")
		conf := dk.confIn + ":/etc/slurm/slurm.conf:ro"
		r := dockerRun(t, "run", "--rm", "--network", "none", "-v", conf, "e2e/example-slim", "sinfo", "--version")
		wantExit(t, "docker run e2e/example-slim sinfo --version", r, 0)
		checkVersionLine(t, strings.TrimSpace(r.stdout))
		fi, err := os.Stat(suite.bin)
		if err != nil {
			t.Fatal(err)
		}
		noInstallerInImage(t, "e2e/example-slim", fi.Size())
		noMirrorsInConfig(t, "e2e/example-slim", sc)

		// The Docker user's alternative on the same base: the client's directory copied
		// from an image that has it, and links onto PATH.
		dir := t.TempDir()
		writeFile(t, dir, "Dockerfile", []byte("FROM "+alpineImage+"\n"+
			"COPY --from=e2e/example-slim /usr/local/slurm /usr/local/slurm\n"+
			"RUN ln -s /usr/local/slurm/bin/* /usr/local/bin/\n"))
		b = dockerBuild(t, "example-slim-copy-from", true, dir, filepath.Join(dir, "Dockerfile"), "-t", "e2e/example-copy-from")
		wantBuild(t, "COPY --from the slim image's /usr/local/slurm", b, 0)
		r = dockerRun(t, "run", "--rm", "--network", "none", "-v", conf, "e2e/example-copy-from", "sinfo", "--version")
		wantExit(t, "docker run e2e/example-copy-from sinfo --version", r, 0)
		checkVersionLine(t, strings.TrimSpace(r.stdout))
		slim, cp := imageSize(t, "e2e/example-slim"), imageSize(t, "e2e/example-copy-from")
		t.Logf("image sizes: backend-slim %d bytes, COPY --from %d bytes (%+d)", slim, cp, slim-cp)
		if slim > cp+2_000_000 {
			t.Errorf("the backend-slim image is %d bytes, more than 2 MB over the COPY --from image's %d", slim, cp)
		}
	})
	// The credentials recipe in Dockerfile.example's comment: a mirror URL with a password
	// given as a BuildKit secret leaves it nowhere — not in the log, the history, the config
	// or the receipt in the image.
	t.Run("SecretMirrorCredentials", func(t *testing.T) {
		const pw = "s3cret-e2e"
		dir := t.TempDir()
		withCreds := "http://apphub:" + pw + "@" + strings.TrimPrefix(sc, "http://")
		writeFile(t, dir, "apphub-mirrors", []byte(withCreds))
		writeFile(t, dir, "Dockerfile", []byte("FROM "+alpineImage+"\n"+
			"COPY --from="+installerImage+" /slurm-installer /usr/local/sbin/slurm-installer\n"+
			"RUN --mount=type=secret,id=apphub SLURM_INSTALLER_MIRRORS=\"$(cat /run/secrets/apphub)\" slurm-installer --fallback fail\n"))
		b := dockerBuild(t, "secret-mirrors", true, dir, filepath.Join(dir, "Dockerfile"), "-t", "e2e/secret",
			"--secret", "id=apphub,src="+filepath.Join(dir, "apphub-mirrors"))
		wantBuild(t, "mirrors with credentials from a BuildKit secret", b, 0)
		wantLog(t, "secret mirrors", b.out, "SLURM client installed", "apphub:xxxxx@")
		if strings.Contains(b.out, pw) {
			t.Errorf("the build log shows the mirror password")
		}
		for _, args := range [][]string{
			{"history", "--no-trunc", "e2e/secret"},
			{"image", "inspect", "e2e/secret"},
			{"run", "--rm", "--network", "none", "e2e/secret", "cat", "/var/lib/slurm-installer/receipt.json"},
			{"run", "--rm", "--network", "none", "e2e/secret", "slurm-installer", "status", "--json"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			r := execute(t, dockerCommand(ctx, nil, args...))
			cancel()
			if r.code != 0 || strings.Contains(r.stdout+r.stderr, pw) {
				t.Errorf("docker %s: exit %d, or it shows the mirror password:\n%s", strings.Join(args, " "), r.code, tail(r.stdout+r.stderr, 20))
			}
		}
	})
	t.Run("DockerIgnore", func(t *testing.T) {
		df := "FROM " + alpineImage + "\nCOPY . /ctx\nRUN test -f /ctx/go.mod && test -f /ctx/go.sum && test ! -e /ctx/build && test ! -e /ctx/bin && test ! -e /ctx/.git && du -sk /ctx\n"
		p := filepath.Join(t.TempDir(), "Dockerfile")
		if err := os.WriteFile(p, []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		b := dockerBuild(t, "dockerignore-classic", false, suite.repo, p, "--no-cache")
		wantBuild(t, "the repository as build context: .dockerignore leaves out build/, bin/, .git", b, 0)
	})

	// Repair inside a running container, with no --mirrors: the receipt's source.
	t.Run("RepairInRunningContainer", func(t *testing.T) {
		name := "e2e-repair"
		_ = dockerRun(t, "rm", "-f", name)
		r := dockerRun(t, "run", "-d", "--name", name, "--network", "host", "-v", dk.confIn+":/etc/slurm/slurm.conf:ro",
			"e2e/glibc-default", "sleep", "600")
		wantExit(t, "docker run -d", r, 0)
		t.Cleanup(func() { dockerRun(t, "rm", "-f", name) })
		in := func(args ...string) run { return dockerRun(t, append([]string{"exec", name}, args...)...) }
		wantExit(t, "verify --deep before", in("slurm-installer", "verify", "--deep"), 0)
		wantExit(t, "delete a library", in("rm", "/usr/local/slurm/lib/libslurmfull.so"), 0)
		v := in("slurm-installer", "verify", "--deep")
		wantExit(t, "verify --deep with libslurmfull.so deleted", v, 8)
		if !strings.Contains(v.stdout, "/usr/local/slurm/lib/libslurmfull.so: missing") {
			t.Errorf("verify --deep should name the deleted library:\n%s", v)
		}
		fix := in("slurm-installer", "install", "--repair")
		wantExit(t, "install --repair (no --mirrors: the receipt's source)", fix, 0)
		if !strings.Contains(fix.stderr, "repaired /usr/local/slurm/lib/libslurmfull.so: missing, restored") {
			t.Errorf("the repair should log what it put back:\n%s", fix)
		}
		wantExit(t, "verify --deep after the repair", in("slurm-installer", "verify", "--deep"), 0)
		s := in("sinfo", "--version")
		wantExit(t, "sinfo --version after the repair", s, 0)
		checkVersionLine(t, strings.TrimSpace(s.stdout))
	})

	// Issue 24: the image holds no key and no cluster configuration; a container run with
	// the cluster's munge socket mounted connects at start, and then a process with an empty
	// environment lists the live 22.05.8 cluster's node.
	t.Run("ConnectAtStart", func(t *testing.T) {
		// The image GlibcDefaultClassic builds (a cache hit after it), so that this case
		// also runs alone.
		b := dockerBuild(t, "glibc-default-classic-connect", false, pctx, pdf, "--build-arg", "BASE="+glibcImage,
			"--build-arg", "MIRRORS="+full, "-t", "e2e/glibc-default")
		wantBuild(t, "classic build, glibc base, default policy", b, 0)
		st, vars := startCluster(t, "cluster-docker")
		r := dockerRun(t, "run", "--rm", "--network", "none", "e2e/glibc-default", "sh", "-c",
			"for f in /etc/slurm/slurm.conf /etc/slurm/slurm.key /etc/munge/munge.key; do test ! -e $f || { echo $f; exit 1; }; done")
		wantExit(t, "the image has no slurm.conf and no key", r, 0)
		r = dockerRun(t, "run", "--rm", "--network", "host", "-v", filepath.Join(st, "munge")+":/run/munge:ro", "e2e/glibc-default",
			"sh", "-c", "slurm-installer connect --controller 127.0.0.1:"+vars["E2E_SLURMCTLD_PORT"]+" && exec env -i /usr/local/bin/sinfo")
		wantExit(t, "docker run: connect at start, then env -i sinfo", r, 0)
		t.Logf("the container's sinfo:\n%s", r.stdout)
		if !strings.Contains(r.stdout, vars["E2E_SLURM_NODE"]) || !strings.Contains(r.stdout, "idle") {
			t.Fatalf("the container's sinfo does not list node %s idle:\n%s", vars["E2E_SLURM_NODE"], r)
		}
	})

	// Issue 24, auth/slurm: a Debian 13 image with the 24.11.5 bundle (which carries sackd),
	// built with no secret; run with only the cluster's slurm.key mounted and /run/slurm as
	// tmpfs, it connects at start (connect starts the bundle's sackd, configless) and a
	// process with an empty environment lists the live 24.11 controller's node.
	t.Run("ConnectAtStart2411", func(t *testing.T) {
		t0 := time.Now()
		mirror := serve(t, "trixie-docker", trixieApphub(t), "html")
		if err := importRoot("glibc-trixie", glibcTrixieImage); err != nil {
			t.Fatal(err)
		}
		b := dockerBuild(t, "trixie-2411-classic", false, pctx, pdf, "--build-arg", "BASE="+glibcTrixieImage,
			"--build-arg", "MIRRORS="+mirror, "--build-arg", "POLICY=fail", "-t", "e2e/trixie-2411")
		wantBuild(t, "classic build, Debian 13 base, the 24.11 bundle", b, 0)
		wantLog(t, "trixie 24.11", b.out, "SLURM client installed", "version=24.11.5")
		r := dockerRun(t, "run", "--rm", "--network", "none", "e2e/trixie-2411", "sh", "-c",
			"for f in /etc/slurm/slurm.conf /etc/slurm/slurm.key /etc/munge/munge.key; do test ! -e $f || { echo $f; exit 1; }; done; "+
				"test -x /usr/local/slurm/sbin/sackd")
		wantExit(t, "the image has no slurm.conf and no key, and the bundle's sackd", r, 0)

		st := filepath.Join(suite.state, "cluster-2411-docker")
		stop := addTeardown("cluster 24.11 "+st, func() { _, _ = script(context.Background(), "cluster2411.sh", "stop", st) })
		t.Cleanup(stop)
		// slurmctld and slurmd listen on 127.0.0.1 only (cluster2411.sh; LOOPBACK=1 is what it always does now).
		if _, err := scriptEnv([]string{"LOOPBACK=1"}, "cluster2411.sh", "start", st, suite.build); err != nil {
			t.Fatalf("the 24.11 cluster could not start: %v", err)
		}
		vars, err := readEnvFile(filepath.Join(st, "env"))
		if err != nil {
			t.Fatal(err)
		}
		r = dockerRun(t, "run", "--rm", "--network", "host", "-v", vars["E2E_SLURM_KEY"]+":/etc/slurm/slurm.key:ro",
			"--tmpfs", "/run/slurm", "e2e/trixie-2411", "sh", "-c",
			"slurm-installer connect --controller 127.0.0.1:"+vars["E2E_SLURMCTLD_PORT"]+" && exec env -i /usr/local/bin/sinfo")
		wantExit(t, "docker run (24.11, auth/slurm): connect at start, then env -i sinfo", r, 0)
		t.Logf("the container's sinfo (24.11, auth/slurm, sackd):\n%s", r.stdout)
		if !strings.Contains(r.stdout, vars["E2E_SLURM_NODE"]) || !strings.Contains(r.stdout, "idle") {
			t.Fatalf("the container's sinfo does not list node %s idle:\n%s", vars["E2E_SLURM_NODE"], r)
		}
		t.Logf("ConnectAtStart2411 took %s", time.Since(t0).Round(time.Millisecond))
	})

	// Last: nothing above made the daemon pull; a pull it is made to try fails at the proxy,
	// and shows in the log the way the check looks for it (so the check can see one).
	t.Run("NoPull", func(t *testing.T) {
		logPath := filepath.Join(dk.state, "dockerd.log")
		before, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		if m := pullAttempt.FindAllString(string(before), 5); m != nil {
			t.Errorf("the daemon tried to pull or resolve an image during the builds: %q (log %s)", m, logPath)
		}
		r := dockerRun(t, "pull", "e2e/never-pulled:1")
		if r.code == 0 || !strings.Contains(r.stderr, "127.0.0.1:9") {
			t.Errorf("a pull should fail at the proxy 127.0.0.1:9: %s", r)
		}
		df := filepath.Join(t.TempDir(), "Dockerfile")
		if err := os.WriteFile(df, []byte("FROM e2e/never-pulled:2\nRUN true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if b := dockerBuild(t, "canary-buildkit", true, filepath.Dir(df), df); b.code == 0 {
			t.Errorf("a build FROM an image that is not there should fail")
		}
		after, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		m := pullAttempt.FindAllString(string(after[len(before):]), -1)
		if len(m) < 2 {
			t.Errorf("the deliberate pull and BuildKit resolve should each show in the daemon log; found %q", m)
		}
	})
}

// packSelfContained is the real payload packed by `pack --self-contained`
// into an AppHub directory under $E2E_BUILD, kept while the binary and the
// bundle stay the same (packing takes 10-20 s on two busy cores).
func packSelfContained(t *testing.T) (dir, tgz string) {
	t.Helper()
	dir = filepath.Join(suite.build, "docker-apphub-sc")
	tgz = filepath.Join(dir, "pkgs/slurm-apk", "slurm-client-"+suite.version+"-"+suite.arch+"-alpine.tar.gz")
	bin, err := os.ReadFile(suite.bin)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%x %s\n", sha256.Sum256(bin), suite.bundle["BUNDLE_TARBALL_SHA256"])
	stamp := dir + ".stamp"
	if b, err := os.ReadFile(stamp); err == nil && string(b) == key {
		if _, err := os.Stat(tgz); err == nil {
			return dir, tgz
		}
	}
	_ = os.Remove(stamp)
	_ = os.RemoveAll(dir)
	t0 := time.Now()
	installer(t, 0, "pack", "--self-contained", "--from", filepath.Join(suite.bundle["BUNDLE_PAYLOAD"], "usr/local/slurm"),
		"--slurm-version", suite.version, "--arch", suite.arch, "--out", dir)
	if err := os.WriteFile(stamp, []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("packed the self-contained bundle in %s", time.Since(t0).Round(time.Millisecond))
	return dir, tgz
}

// noRequireChecksum stops the test with the reason when the binary predates
// --require-checksum, which Dockerfile.example's gated stage uses.
func noRequireChecksum(t *testing.T, b built) {
	t.Helper()
	if b.code == 2 && strings.Contains(b.out, "require-checksum") {
		t.Fatalf("this slurm-installer has no --require-checksum (the hostile-mirrors issue adds it); Dockerfile.example's gated stage needs it:\n%s", tail(b.out, 20))
	}
}

// pullAttempt matches the daemon log lines of an image pull (API and classic
// builder) and of a BuildKit registry resolve.
var pullAttempt = regexp.MustCompile(`Trying to pull [^"]*|images/create\?fromImage=[^"]*|msg=resolving host=\S*|proxyconnect tcp[^"]*`)

// noInstallerInImage asserts the image holds no installer binary: `command -v
// slurm-installer` finds nothing in it, and no layer of `docker save` has a
// non-directory entry named slurm-installer (nor its whiteout: a binary
// deleted in a later layer would still cost its bytes) or a regular file of
// the binary's size (binSize).
func noInstallerInImage(t *testing.T, image string, binSize int64) {
	t.Helper()
	// The shell's "not found" (1 or 127), not docker's own failure to run it (125, 126).
	r := dockerRun(t, "run", "--rm", "--network", "none", image, "sh", "-c", "command -v slurm-installer || exit 3")
	wantExit(t, "`command -v slurm-installer` in "+image, r, 3)
	save := filepath.Join(t.TempDir(), "image.tar")
	r = dockerRun(t, "save", "-o", save, image)
	wantExit(t, "docker save "+image, r, 0)
	// manifest.json names the layers (docker save writes them uncompressed).
	layers := map[string]bool{}
	eachTarEntry(t, save, func(h *tar.Header, rd io.Reader) {
		if h.Name != "manifest.json" {
			return
		}
		var m []struct{ Layers []string }
		if err := json.NewDecoder(rd).Decode(&m); err != nil || len(m) != 1 {
			t.Fatalf("docker save %s: manifest.json: %v (%d images)", image, err, len(m))
		}
		for _, l := range m[0].Layers {
			layers[l] = true
		}
	})
	if len(layers) == 0 {
		t.Fatalf("docker save %s: no layers in manifest.json", image)
	}
	seen := 0
	eachTarEntry(t, save, func(h *tar.Header, rd io.Reader) {
		if !layers[h.Name] {
			return
		}
		seen++
		lr := tar.NewReader(rd)
		for {
			e, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("docker save %s: layer %s: %v", image, h.Name, err)
			}
			base := filepath.Base(e.Name)
			if e.Typeflag != tar.TypeDir && (base == "slurm-installer" || base == ".wh.slurm-installer") {
				t.Errorf("%s: layer %s holds %s (type %c, %d bytes)", image, h.Name, e.Name, e.Typeflag, e.Size)
			}
			if e.Typeflag == tar.TypeReg && e.Size == binSize {
				t.Errorf("%s: layer %s holds %s, %d bytes: the installer binary's size", image, h.Name, e.Name, e.Size)
			}
		}
	})
	if seen != len(layers) {
		t.Fatalf("docker save %s: read %d of the %d layers manifest.json names", image, seen, len(layers))
	}
	t.Logf("%s: no installer binary in its %d layers", image, seen)
}

// eachTarEntry calls fn for every entry of the tar file at p.
func eachTarEntry(t *testing.T, p string, fn func(*tar.Header, io.Reader)) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fn(h, tr)
	}
}

// imageSize is `docker image inspect --format {{.Size}}`, in bytes.
func imageSize(t *testing.T, image string) int64 {
	t.Helper()
	r := dockerRun(t, "image", "inspect", "--format", "{{.Size}}", image)
	wantExit(t, "docker image inspect "+image, r, 0)
	n, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	if err != nil {
		t.Fatalf("the size of %s: %q: %v", image, r.stdout, err)
	}
	return n
}
