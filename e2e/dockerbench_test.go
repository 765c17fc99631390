//go:build e2e && docker

package e2e

// TestDockerBench (issue 25): what a `RUN slurm-installer` image costs against
// the Docker user's alternative, `COPY --from=<a client image> /usr/local/slurm`
// plus ldconfig and links. scripts/bench-docker.sh runs it (`make bench`) with
// BENCH_DOCKER_OUT set; the normal e2e-docker run selects ^TestDocker$ only,
// so it never runs there, and run without BENCH_DOCKER_OUT it fails (never a
// silent skip).
//
// On the same glibc base (the e2e glibc root, docker import'ed), cold builds
// (--no-cache; the built image removed and the build cache pruned after each,
// untimed; the base, installer and client images kept), interleaved per round:
//
//	run        COPY --from=<installer image> the binary in + RUN slurm-installer --strict
//	           (the binary stays in the image); classic builder and BuildKit
//	run-mount  RUN --mount=type=bind,from=<installer image>,... slurm-installer --strict
//	           (the binary in no layer); BuildKit only
//	copy-from  COPY --from=<client image> /usr/local/slurm + ldconfig + links;
//	           classic builder and BuildKit
//
// One warm-up round (not recorded) also checks each image: sinfo --version runs
// in it, and the run-mount image holds no installer binary in any layer.
// Output: BENCH_DOCKER_OUT, a TSV (case, builder, run, seconds, bytes) after
// `# key=value` lines about the setup; scripts/bench/report.py --docker renders it.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const benchClientImage = "e2e/bench-client:test"

func TestDockerBench(t *testing.T) {
	out := os.Getenv("BENCH_DOCKER_OUT")
	if out == "" {
		t.Fatal("BENCH_DOCKER_OUT is not set: run scripts/bench-docker.sh (make bench), which sets it")
	}
	runs := 5
	if v := os.Getenv("BENCH_DOCKER_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("BENCH_DOCKER_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	dockerd(t)
	binInfo, err := os.Stat(suite.bin)
	if err != nil {
		t.Fatal(err)
	}
	mirrors := suite.full

	// The build context holds only the Dockerfiles (nothing else to send).
	dir := t.TempDir()
	dfs := map[string]string{
		"run": "FROM " + glibcImage + "\n" +
			"COPY --from=" + installerImage + " /slurm-installer /usr/local/sbin/slurm-installer\n" +
			"ARG MIRRORS\n" +
			"RUN slurm-installer --mirrors \"$MIRRORS\" --strict\n",
		"run-mount": "FROM " + glibcImage + "\n" +
			"ARG MIRRORS\n" +
			"RUN --mount=type=bind,from=" + installerImage + ",source=/slurm-installer,target=/usr/local/bin/slurm-installer \\\n" +
			"    slurm-installer --mirrors \"$MIRRORS\" --strict\n",
		"copy-from": "FROM " + glibcImage + "\n" +
			"COPY --from=" + benchClientImage + " /usr/local/slurm /usr/local/slurm\n" +
			"RUN echo /usr/local/slurm/lib >/etc/ld.so.conf.d/slurm.conf && ldconfig && ln -s /usr/local/slurm/bin/* /usr/local/bin/\n",
	}
	for name, df := range dfs {
		writeFile(t, dir, "Dockerfile."+name, []byte(df))
	}

	// The client image a COPY --from user copies from: an install into the same base (not timed).
	b := dockerBuild(t, "bench-client", true, dir, filepath.Join(dir, "Dockerfile.run"),
		"--build-arg", "MIRRORS="+mirrors, "-t", benchClientImage)
	wantBuild(t, "the client image for COPY --from", b, 0)

	type bcase struct {
		name     string
		buildkit bool
	}
	cases := []bcase{{"run", false}, {"copy-from", false}, {"run", true}, {"run-mount", true}, {"copy-from", true}}
	builderName := map[bool]string{true: "buildkit", false: "classic"}

	clean := func(tag string) {
		t.Helper()
		for _, args := range [][]string{{"image", "rm", "-f", tag}, {"builder", "prune", "-af"}} {
			r := dockerRun(t, args...)
			wantExit(t, "docker "+strings.Join(args, " "), r, 0)
		}
		wantExit(t, "sync", execute(t, exec.Command("sync")), 0)
	}
	// buildOnce builds one case cold and returns its wall time and image size.
	buildOnce := func(c bcase, round string) (time.Duration, int64, string) {
		t.Helper()
		tag := "e2e/bench-" + c.name + "-" + builderName[c.buildkit] + ":test"
		clean(tag)
		b := dockerBuildNoT("bench-"+c.name+"-"+builderName[c.buildkit]+"-"+round, c.buildkit, dir,
			filepath.Join(dir, "Dockerfile."+c.name), "--no-cache", "--build-arg", "MIRRORS="+mirrors, "-t", tag)
		wantBuild(t, fmt.Sprintf("%s (%s), %s", c.name, builderName[c.buildkit], round), b, 0)
		return b.took, imageSize(t, tag), tag
	}

	// Warm-up (page cache, the daemon's first builds), with the checks.
	for _, c := range cases {
		_, _, tag := buildOnce(c, "warmup")
		conf := dk.confIn + ":/etc/slurm/slurm.conf:ro"
		r := dockerRun(t, "run", "--rm", "--network", "none", "-v", conf, tag, "sinfo", "--version")
		wantExit(t, "sinfo --version in "+tag, r, 0)
		checkVersionLine(t, strings.TrimSpace(r.stdout))
		if c.name == "run-mount" {
			noInstallerInImage(t, tag, binInfo.Size())
		}
		clean(tag)
	}

	dv := dockerRun(t, "version", "--format", "{{.Server.Version}}")
	wantExit(t, "docker version", dv, 0)
	drv := dockerRun(t, "info", "--format", "{{.Driver}}")
	wantExit(t, "docker info", drv, 0)
	var tsv strings.Builder
	fmt.Fprintf(&tsv, "# docker=%s\n# storage=%s\n# base=%s\n# installer_bytes=%d\n# runs=%d\n# version=%s\n",
		strings.TrimSpace(dv.stdout), strings.TrimSpace(drv.stdout), glibcImage, binInfo.Size(), runs, suite.version)
	tsv.WriteString("case\tbuilder\trun\tseconds\tbytes\n")
	secs := map[string][]float64{}
	sizes := map[string][]int64{}
	for i := 1; i <= runs; i++ {
		for _, c := range cases {
			took, size, tag := buildOnce(c, strconv.Itoa(i))
			clean(tag)
			k := c.name + "/" + builderName[c.buildkit]
			secs[k] = append(secs[k], took.Seconds())
			sizes[k] = append(sizes[k], size)
			fmt.Fprintf(&tsv, "%s\t%s\t%d\t%.3f\t%d\n", c.name, builderName[c.buildkit], i, took.Seconds(), size)
			t.Logf("round %d: %s: %.3f s, %d bytes", i, k, took.Seconds(), size)
		}
		// Written after every round, so a run stopped half-way leaves what it measured.
		if err := os.WriteFile(out, []byte(tsv.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	for _, bl := range []string{"classic", "buildkit"} {
		base := secs["copy-from/"+bl]
		for _, n := range []string{"run", "run-mount", "copy-from"} {
			k := n + "/" + bl
			if len(secs[k]) == 0 {
				continue
			}
			t.Logf("%-20s median %.3f s (%.2f× copy-from), image %.1f MB (%+.1f MB)", k, med(secs[k]),
				med(secs[k])/med(base), float64(sizes[k][0])/1e6, float64(sizes[k][0]-sizes["copy-from/"+bl][0])/1e6)
		}
	}
	t.Logf("wrote %s", out)
}
