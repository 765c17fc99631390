package run

import (
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/policy"
	"slurm-installer/internal/slurmver"
)

// Request is one install run as the command line asked for it, validated once by the caller
// (internal/app): every field is final for the run. What the run learns on the way (the
// target, the receipt, the controller's window) lives in [Run], never here.
type Request struct {
	RootDir  string // absolute
	Prefix   string // "" = install's default
	BinDir   string // "" = install's default
	LockWait time.Duration

	Mirrors   []string
	Version   string // the selector: exact, series, latest or cluster ("latest" when none was given)
	Requested string // the --slurm-version asked for, as recorded in the receipt
	Arch      string // --arch as given ("" = detect)
	SHA256    string // a pinned digest, lower-case hex, or ""
	From      string // a local bundle (file or directory), or ""
	CacheDir  string

	Fallback        string // "demo" or "fail"
	Force           bool
	Repair          bool
	DryRun          bool // resolve and report; change nothing
	RequireChecksum bool // refuse bytes nothing vouches for (exit 5)
	Limits          install.Limits

	Timeout, Deadline time.Duration
	Retries           int
	// Net completes fetch.Options with the command line's network options (proxies, CA
	// pool, progress, registry credentials); nil leaves fetch's defaults.
	Net func(*fetch.Options)

	Policy     *policy.Policy
	MinVersion string // --min-version as given (for the log line only)

	InstallerVersion string // recorded in the receipt
	Log              zerolog.Logger
	// Hint words an error's advice for a log line (the command line's words); nil: none.
	Hint func(error) string
}

// cluster: --slurm-version cluster, the newest bundle the site's controller accepts.
func (r *Request) cluster() bool { return slurmver.KindOf(r.Version) == slurmver.Cluster }

// Result is what an install run ends with; internal/app prints it with --json and logs it.
// Every key is always there, whatever the status (docs/JSON.md): a script reads the same shape
// on success, in demo mode and on failure.
type Result struct {
	Status   string      `json:"status"` // installed, unchanged, repaired, demo, kept-previous, dry-run, failed, interrupted, error
	Version  string      `json:"version"`
	Arch     string      `json:"arch"`
	Libc     bundle.Libc `json:"libc"`
	Source   string      `json:"source"`
	Reason   string      `json:"reason"`
	Class    string      `json:"failure_class"`
	Hint     string      `json:"hint"`
	Verified string      `json:"verified"`
	// Verification: how the bytes were verified (bundle.Verifications).
	Verification bundle.Verification `json:"verification"`
	Warnings     []string            `json:"warnings"`
	Seconds      float64             `json:"seconds"`
	Exit         int                 `json:"exit_code"`
	// WouldExit is the exit code the failure would have had under
	// --fallback fail (demo, kept-previous), else the same as Exit.
	WouldExit int `json:"would_exit_code"`
	// Plan is what --dry-run resolved (null on any other run).
	Plan *Plan `json:"plan"`
}
