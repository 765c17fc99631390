package run

import (
	"context"
	"errors"

	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/policy"
)

// outcome is what a failed install run turns into.
type outcome int

const (
	outInterrupted  outcome = iota // stopped by a signal: exit 130/143, never demo
	outFail                        // exit with the failure's class
	outKeepPrevious                // the working install stays; exit 0 under --fallback demo
	outRecordDemo                  // demo mode recorded; exit 0 under --fallback demo
)

func (o outcome) String() string {
	return [...]string{"interrupted", "failed", "kept-previous", "demo"}[o]
}

// failureFacts is all the fallback decision looks at.
type failureFacts struct {
	stopped  bool          // a signal stopped the run
	canceled bool          // the context was cancelled (not by a deadline)
	notOurs  bool          // a path holds something the installer does not own
	class    failure.Class // the failure's class
	fallback string        // "demo" or "fail"
	working  bool          // a working install was there before the run
}

// decide is the fallback policy (docs/DESIGN.md §3): an interrupted build is not a failed
// mirror; a usage error, a held lock, a cancellation or a refusal to touch what is not ours is
// never turned into a "successful" image; a working install is never replaced by demo mode.
func decide(f failureFacts) outcome {
	switch {
	case f.stopped:
		return outInterrupted
	case f.fallback == "fail", f.class == failure.Usage, f.class == failure.Locked, f.canceled, f.notOurs:
		return outFail
	case f.working:
		return outKeepPrevious
	default:
		return outRecordDemo
	}
}

// fallback applies the --fallback policy to a failed install.
func (r *Run) fallback(ctx context.Context, err error) (*Result, error) {
	log := r.log
	stopped := failure.Stopped(ctx, err)
	class := failure.ClassOf(err)
	out := decide(failureFacts{stopped: stopped != nil, canceled: errors.Is(err, context.Canceled), notOurs: errors.Is(err, install.ErrNotOurs),
		class: class, fallback: r.req.Fallback, working: r.working})
	switch out {
	case outInterrupted, outFail:
		if r.working {
			log.Warn().Str("version", r.prev.Version).Msg("the previous install is untouched and still active")
		}
		if stopped != nil {
			err = stopped
		}
		r.res.Status = out.String()
		return r.res, err
	}
	r.res.Reason, r.res.Class, r.res.WouldExit = err.Error(), class.String(), int(class)
	ev := log.Warn().Str("class", class.String()).Int("would_exit", int(class))
	if r.req.Hint != nil {
		if h := r.req.Hint(err); h != "" {
			ev = ev.Str("hint", h)
			r.res.Hint = h
		}
	}
	ev.Msg("install failed: " + err.Error())
	if out == outKeepPrevious {
		log.Warn().Str("version", r.prev.Version).Msg("keeping the working install (a working install is never replaced by demo mode); exit 0 under --fallback demo, use --fallback fail to gate on it")
		r.res.Status, r.res.Version = out.String(), r.prev.Version
		return r.res, nil
	}
	o := r.in.Options()
	rc := &install.Receipt{Reason: err.Error(), FailureClass: class.String(), Requested: r.req.Requested,
		Arch: r.t.Arch, Libc: r.t.Libc, Prefix: o.Prefix, BinDir: o.BinDir, InstallerVersion: r.req.InstallerVersion,
		IndexSerial: policy.LastSerial(r.prev)}
	if derr := r.in.RecordDemo(rc); derr != nil {
		log.Error().Err(derr).Msg("could not record demo mode either")
		r.res.Status = outFail.String()
		if errors.Is(derr, install.ErrNotOurs) {
			return r.res, derr // the site's slurm.sh is in the way: say so (exit 7)
		}
		return r.res, err
	}
	log.Warn().Str("profile", install.ProfileScript).Msg("DEMO MODE recorded: SLURM_DEMO_MODE=1; the backend will serve demo data (status and verify exit 3)")
	r.res.Status = out.String()
	return r.res, nil
}
