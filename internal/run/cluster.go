package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/policy"
	"slurm-installer/verify"
)

// clusterProbeTimeout bounds each command run that asks the controller.
const clusterProbeTimeout = 15 * time.Second

// resolveCluster makes `install --slurm-version cluster` concrete (docs/DESIGN.md
// §9, issue 14): it asks the site's controller its version with the
// installed client (`scontrol show config`, the root's
// /etc/slurm/slurm.conf) and narrows the selection to the bundles that
// controller accepts (r.accept): the newest of those that can run in the
// root is installed.
//
// Without an installed client that can talk to the controller it returns
// probe: the caller tries the candidates themselves (probeCluster).
func (r *Run) resolveCluster(ctx context.Context) (probe bool, err error) {
	req, t, in, prev, log := &r.req, r.t, r.in, r.prev, r.log
	if req.SHA256 != "" || req.From != "" {
		return false, failure.New(failure.Usage, "--slurm-version cluster chooses the bundle itself; it does not combine with --sha256 or --from").
			WithHint("drop --sha256/--from, or pass the bundle's exact --slurm-version")
	}
	if !t.fs.Exists(verify.SiteConf) {
		return false, failure.New(failure.Usage, "--slurm-version cluster needs the cluster's %s in the root, to ask the controller its version", verify.SiteConf).
			WithHint("mount or copy the site's slurm.conf to %s (and munge's key to /etc/munge/munge.key), or pass the controller's series, e.g. --slurm-version 22.05", verify.SiteConf)
	}
	if !r.working {
		what := "no SLURM client is installed in the root"
		if prev != nil && prev.Mode == install.ModeReal {
			what = "the installed SLURM client is broken"
		}
		log.Info().Msgf("--slurm-version cluster: %s to ask the controller its version; probing the candidate bundles, newest first", what)
		return true, nil
	}
	o := in.Options()
	ctl, client, err := verify.AskController(ctx, verify.RunInput{RootDir: req.RootDir, Prefix: o.Prefix, BinDir: o.BinDir,
		Chroot: req.RootDir != "/", Timeout: clusterProbeTimeout})
	if err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		if k := verify.ClassifyClusterOutput(err.Error()); k != verify.FailProtocol && k != verify.FailOther {
			// Unreachable or refused by munge: another client would fare no better.
			return false, failure.New(failure.Verify, "--slurm-version cluster: the installed client (SLURM %s) cannot ask the controller its version (%s): %w", client, k, err).
				WithHint("slurmctld (SlurmctldHost in %s) must be reachable from here and munged must run with the cluster's key; or pass the controller's series, e.g. --slurm-version 22.05", verify.SiteConf)
		}
		log.Warn().Err(err).Msgf("--slurm-version cluster: the installed client (SLURM %s) cannot learn the controller's version; probing the candidate bundles, newest first", client)
		return true, nil
	}
	lo, hi, err := verify.AcceptedClients(ctl)
	if err != nil {
		return false, failure.New(failure.Verify, "--slurm-version cluster: the controller is SLURM %s: %w", ctl, err).
			WithHint("pass an exact --slurm-version of the controller's major release")
	}
	log.Info().Str("controller", ctl).Str("client", client).Str("accepts", lo+" to "+hi).
		Msgf("the controller is SLURM %s and accepts clients of %s to %s; choosing the newest bundle in that window", ctl, lo, hi)
	r.controller, r.window = ctl, lo+" to "+hi
	r.accept = func(v string) string {
		ok, err := verify.CanTalk(v, ctl)
		switch {
		case err != nil:
			return fmt.Sprintf("cannot tell whether controller SLURM %s accepts it: %v", ctl, err)
		case !ok:
			return fmt.Sprintf("outside the controller's window (SLURM %s accepts clients of %s to %s)", ctl, lo, hi)
		}
		return ""
	}
	return false, nil
}

// clusterError adds the controller to a failure of a cluster selection.
func (r *Run) clusterError(err error) error {
	if !r.req.cluster() || r.controller == "" || !errors.Is(err, fetch.ErrNoBundleRuns) {
		return err
	}
	return failure.New(failure.Verify, "--slurm-version cluster: controller SLURM %s accepts clients of %s only: %w", r.controller, r.window, err).
		WithHint("publish a bundle of a SLURM release from %s that can run in this root (for the root's glibc, or self-contained), or upgrade the controller", r.window)
}

// Bounds of the probing (issue 14: bounded in time).
const (
	probeBudget     = 60 * time.Second // all candidates' probes together
	maxProbeTargets = 6                // candidates tried at most
)

// probeCluster tries the candidate bundles newest first (those that can
// run in the root, from the first mirror that lists them) when no
// installed client can ask the controller: each is installed, its
// verification run done, and its own `scontrol show config` asked (15 s,
// the probes together 60 s); the first that talks stays, every other is
// rolled back, so the root is as it was between candidates. None: a
// refusal (class Verify) listing each candidate and why.
func (r *Run) probeCluster(ctx context.Context) (*installed, error) {
	req, in, log := &r.req, r.in, r.log
	tmp, err := downloadDir(in)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	req.Policy.SeenSerial = policy.LastSerial(r.prev)
	fo := r.fetchOpts(req.Version, tmp)
	vs, err := fetch.Candidates(ctx, fo)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, failure.New(failure.Verify, "--slurm-version cluster: no installed client can ask the controller its version, and no mirror lists candidate bundles that can run in this root").
			WithHint("pass the controller's series (`scontrol show config | grep SLURM_VERSION` where the cluster is reachable), e.g. --slurm-version 22.05")
	}
	log.Info().Strs("candidates", vs).Msg("--slurm-version cluster: probing the candidates newest first, each with its own scontrol")
	o := in.Options()
	end := time.Now().Add(probeBudget)
	var tried []string
	for i, v := range vs {
		left := time.Until(end)
		if i >= maxProbeTargets || left <= time.Second {
			tried = append(tried, v+": not tried (the probe budget of "+probeBudget.String()+" is spent)")
			continue
		}
		var probeErr error // the probe's own failure (not a download or preflight one)
		probe := func(ctx context.Context) error {
			ctl, client, err := verify.AskController(ctx, verify.RunInput{RootDir: req.RootDir, Prefix: o.Prefix, BinDir: o.BinDir,
				Chroot: req.RootDir != "/", Timeout: min(clusterProbeTimeout, left)})
			if err != nil {
				probeErr = err
				return err
			}
			if ok, _ := verify.CanTalk(client, ctl); !ok && client != "unknown" {
				lo, hi, _ := verify.AcceptedClients(ctl)
				return failure.New(failure.Verify, "the controller (SLURM %s) answered, but it accepts clients of %s to %s only", ctl, lo, hi)
			}
			log.Info().Str("controller", ctl).Str("client", client).Msgf("SLURM %s talks to the controller (SLURM %s)", client, ctl)
			return nil
		}
		rc, err := r.installOnce(ctx, v, probe)
		if err == nil {
			return rc, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		tried = append(tried, v+": "+err.Error())
		if k := verify.ClassifyClusterOutput(fmt.Sprint(probeErr)); probeErr != nil && (k == verify.FailUnreachable || k == verify.FailAuth) {
			// Not the protocol: another candidate would fare no better.
			log.Warn().Str("version", v).Err(err).Msgf("candidate cannot reach the controller (%s); rolled back, not trying the others", k)
			for _, rest := range vs[i+1:] {
				tried = append(tried, rest+": not tried (the controller is "+k.String()+" from here)")
			}
			break
		}
		log.Warn().Str("version", v).Err(err).Msg("candidate does not talk to the controller; rolled back, trying the next")
	}
	return nil, failure.New(failure.Verify, "--slurm-version cluster: none of the candidate bundles talks to the controller (tried newest first, each rolled back): %s", strings.Join(tried, "; ")).
		WithHint("check that slurmctld is reachable from here (SlurmctldHost in %s) and munged runs with the cluster's key; "+
			"if the controller is older or newer than every bundle's protocol window, publish a bundle of its major release (`scontrol show config | grep SLURM_VERSION`)", verify.SiteConf)
}
