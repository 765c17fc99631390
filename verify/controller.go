package verify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/rootfs"
)

// SiteConf is where the cluster's slurm.conf sits in a root.
const SiteConf = siteConf

// AskController runs the installed `scontrol show config` in the root with
// the site's /etc/slurm/slurm.conf (which it requires) and the host's
// network, in the sandbox, bounded by in.Timeout (default 15 s), and
// returns the controller's SLURM_VERSION and the client's own version
// (sinfo --version; "unknown" when it does not say). It is how
// `install --slurm-version cluster` learns which bundles the controller
// accepts (docs/DESIGN.md §9).
//
// Errors: ErrCannotExec (wrapped) when the commands cannot run from here;
// failure.Usage without a site conf; failure.Verify when scontrol fails
// or prints no SLURM_VERSION, naming a protocol mismatch when the output
// has its signature.
func AskController(ctx context.Context, in RunInput) (controller, client string, err error) {
	if in.Timeout <= 0 {
		in.Timeout = 15 * time.Second
	}
	in.Command = "scontrol"
	if in.RootDir == "" {
		in.RootDir = "/"
	}
	if !rootfs.New(in.RootDir).Exists(siteConf) {
		return "", "", failure.New(failure.Usage, "asking the controller needs %s in the root", siteConf).
			WithHint("mount or copy the cluster's slurm.conf to %s (and munge's key to /etc/munge/munge.key) and retry", siteConf)
	}
	t, err := prepare(in, in.Timeout)
	if err != nil {
		return "", "", err
	}
	env := []string{"SLURM_CONF=" + t.hostOrRoot(siteConf)}
	client = "unknown"
	if s, err := prepare(RunInput{RootDir: in.RootDir, Prefix: in.Prefix, BinDir: in.BinDir, Command: "sinfo", Chroot: in.Chroot, Timeout: in.Timeout}, in.Timeout); err == nil {
		client = s.clientVersion(ctx, env)
	}
	if ctx.Err() != nil {
		return "", client, fmt.Errorf("asking the controller: %w", ctx.Err())
	}
	stdout, stderr, err := t.run(ctx, env, true, nil, "show", "config")
	if err != nil {
		if ctx.Err() != nil {
			return "", client, err
		}
		if failure.ClassOf(err) == failure.Verify && ClassifyClusterOutput(stderr+"\n"+stdout) == FailProtocol {
			return "", client, failure.New(failure.Verify, "%w: the controller and this client (SLURM %s) do not speak the same SLURM protocol; %s", err, client, windowText(client))
		}
		return "", client, err
	}
	v := controllerVersion(stdout)
	if v == "" {
		return "", client, failure.New(failure.Verify, "`%s show config` printed no SLURM_VERSION: %q", t.cmd, headLines(strings.TrimSpace(stdout), 3))
	}
	return v, client, nil
}
