package app

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/verify"
)

// clusterProbeTimeout bounds each command run that asks the controller.
const clusterProbeTimeout = 15 * time.Second

// resolveCluster makes `install --slurm-version cluster` concrete (design.md
// §9, issue 14): it asks the site's controller its version with the
// installed client (`scontrol show config`, the root's
// /etc/slurm/slurm.conf) and narrows the selection to the bundles that
// controller accepts (cfg.accept): the newest of those that can run in the
// root is installed.
//
// Without an installed client that can talk to the controller it refuses
// (class Verify): probing staged candidates with their own client is not
// implemented (see the closing note).
func resolveCluster(ctx context.Context, cfg *installConfig, t *target, in *install.Installer, prev *install.Receipt, working bool, log zerolog.Logger) error {
	if cfg.sha != "" || cfg.from != "" {
		return failure.New(failure.Usage, "--slurm-version cluster chooses the bundle itself; it does not combine with --sha256 or --from").
			WithHint("drop --sha256/--from, or pass the bundle's exact --slurm-version")
	}
	if !t.fs.Exists(verify.SiteConf) {
		return failure.New(failure.Usage, "--slurm-version cluster needs the cluster's %s in the root, to ask the controller its version", verify.SiteConf).
			WithHint("mount or copy the site's slurm.conf to %s (and munge's key to /etc/munge/munge.key), or pass the controller's series, e.g. --slurm-version 22.05", verify.SiteConf)
	}
	if !working {
		what := "no SLURM client is installed in the root"
		if prev != nil && prev.Mode == install.ModeReal {
			what = "the installed SLURM client is broken"
		}
		return failure.New(failure.Verify, "--slurm-version cluster: %s, so nothing can ask the controller its version", what).
			WithHint("pass the controller's series (`scontrol show config | grep SLURM_VERSION` on a node that can reach it), e.g. --slurm-version 22.05; " +
				"or install any client first and rerun with --slurm-version cluster")
	}
	o := in.Options()
	ctl, client, err := verify.AskController(ctx, verify.RunInput{RootDir: cfg.rootDir, Prefix: o.Prefix, BinDir: o.BinDir,
		Chroot: cfg.rootDir != "/", Timeout: clusterProbeTimeout})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return failure.New(failure.Verify, "--slurm-version cluster: the installed client (SLURM %s) cannot learn the controller's version: %w", client, err).
			WithHint("check that slurmctld is reachable from here and munged runs with the cluster's key; if the installed client is outside the controller's protocol window, pass the controller's series, e.g. --slurm-version 22.05 (%s)", failure.HintOf(err))
	}
	lo, hi, err := verify.AcceptedClients(ctl)
	if err != nil {
		return failure.New(failure.Verify, "--slurm-version cluster: the controller is SLURM %s: %w", ctl, err).
			WithHint("pass an exact --slurm-version of the controller's major release")
	}
	log.Info().Str("controller", ctl).Str("client", client).Str("accepts", lo+" to "+hi).
		Msgf("the controller is SLURM %s and accepts clients of %s to %s; choosing the newest bundle in that window", ctl, lo, hi)
	cfg.controller, cfg.window = ctl, lo+" to "+hi
	cfg.accept = func(v string) string {
		ok, err := verify.CanTalk(v, ctl)
		switch {
		case err != nil:
			return fmt.Sprintf("cannot tell whether controller SLURM %s accepts it: %v", ctl, err)
		case !ok:
			return fmt.Sprintf("outside the controller's window (SLURM %s accepts clients of %s to %s)", ctl, lo, hi)
		}
		return ""
	}
	return nil
}

// clusterError adds the controller to a failure of a cluster selection.
func clusterError(cfg *installConfig, err error) error {
	if !cfg.cluster() || cfg.controller == "" || failure.ClassOf(err) != failure.Verify {
		return err
	}
	return failure.New(failure.Verify, "--slurm-version cluster: controller SLURM %s accepts clients of %s only: %w", cfg.controller, cfg.window, err).
		WithHint("publish a bundle of a SLURM release from %s that can run in this root (for the root's glibc, or self-contained), or upgrade the controller", cfg.window)
}
