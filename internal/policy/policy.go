// Package policy is the trust policy of one install run (docs/DESIGN.md §6):
// the pinned key, the signed index's expiry and serial (per mirror, before
// its bundle is downloaded), the minimum version and the downgrade rule.
// Each refusal is an integrity failure (exit 5) that names its rule, so an
// operator knows which setting or which mirror to look at; the remedies it
// suggests are worded by the CLI.
package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/slurmver"
	"slurm-installer/trust"
)

// The rules that can stop an install (docs/DESIGN.md §6, issue 5). Each refusal
// names its rule so an operator knows which setting or which mirror to look
// at. The values are recorded in the output ("refused by rule downgrade").
// The signature rule itself (the index must verify against the pinned key)
// is fetch's: it never reaches a refusal here.
const (
	ruleExpiry     = "index-expiry"     // a signed index past its expiry is refused (freeze attack)
	ruleSerial     = "index-serial"     // a signed index older than the last one seen is refused (rollback)
	ruleDowngrade  = "downgrade"        // a version older than the installed one needs an explicit allowance
	ruleMinVersion = "min-version"      // a version below the minimum version is refused
	ruleLocalFile  = "pinned-key-local" // a local bundle with a pinned key needs a pinned digest
)

// Policy is the trust configuration of one run. A nil Policy refuses
// nothing.
type Policy struct {
	Key            *trust.Key // nil: no key pinned; downloads are unauthenticated
	AllowDowngrade bool
	MinVersion     string
	Now            func() time.Time
	SeenSerial     int64 // the highest index serial the receipt remembers (set before a fetch)
}

// Flags are the trust flags as given.
type Flags struct {
	AllowDowngrade     bool
	MinVersion, PubKey string
}

// Parse reads the pinned key (or builtIn, the key baked into the binary,
// when none is given), the downgrade allowance and the minimum version.
func Parse(f Flags, builtIn string) (*Policy, error) {
	p := &Policy{AllowDowngrade: f.AllowDowngrade, MinVersion: strings.TrimSpace(f.MinVersion), Now: time.Now}
	if p.MinVersion != "" && !slurmver.Numeric(p.MinVersion) {
		return nil, failure.New(failure.Usage, "the minimum version %q is not a dotted version such as 23.02.1", p.MinVersion)
	}
	raw, source := strings.TrimSpace(f.PubKey), "pinned key"
	if raw == "" {
		raw, source = strings.TrimSpace(builtIn), "built-in key"
	}
	if raw == "" {
		return p, nil
	}
	k, err := trust.ParseKey(raw, source)
	if err != nil {
		return nil, err
	}
	p.Key = k
	return p, nil
}

// Pinned reports whether a key is pinned: without one the download is
// unauthenticated (the mirror's checksums catch corruption, not tampering).
func (p *Policy) Pinned() bool { return p != nil && p.Key != nil }

// FetchOptions adds the signature requirement and the per-mirror index
// rules to o when a key is pinned.
func (p *Policy) FetchOptions(o *fetch.Options, log zerolog.Logger) {
	if p == nil || p.Key == nil {
		return // the caller says the download is unauthenticated (Policy.Pinned)
	}
	o.RequireSignedIndex = true
	o.IndexVerifier = p.Key.VerifyIndex
	// The index rules per mirror (issue 13): a stale or expired mirror listed
	// first is skipped, not the end of the run. checkArtifact stays the
	// backstop for the serial.
	o.AcceptIndex = p.AcceptIndex
	log.Info().Str("key_id", p.Key.ID()).Str("from", p.Key.Source).Msg("key pinned: the bundle must come from an index signed by it")
}

// AcceptIndex applies the index rules to a mirror's signed index before
// its bundle is downloaded: not expired, and a serial no lower than the one
// this root already saw. It is the one place the expiry is checked.
func (p *Policy) AcceptIndex(idx *index.Index) error {
	if !idx.Expires.IsZero() && p.Now().After(idx.Expires) {
		return refuse(ruleExpiry, "the signed index expired at %s (an index never re-signed could be replayed forever)", idx.Expires.Format(time.RFC3339)).
			Suggest(failure.SignIndex)
	}
	if idx.Serial < p.SeenSerial {
		return refuse(ruleSerial, "the signed index has serial %d, but this root already saw serial %d", idx.Serial, p.SeenSerial)
	}
	return nil
}

func refuse(rule, format string, args ...any) *failure.Error {
	return failure.New(failure.Integrity, "refused by rule %s: %s", rule, fmt.Sprintf(format, args...))
}

// LastSerial is the highest index serial the receipt chain remembers.
func LastSerial(r *install.Receipt) int64 {
	var n int64
	for ; r != nil; r = r.Previous {
		n = max(n, r.IndexSerial)
	}
	return n
}

// installedVersion is the version of the real install the receipt (or the
// real install it keeps) records, "" when none.
func installedVersion(r *install.Receipt) string {
	for ; r != nil; r = r.Previous {
		if r.Mode == install.ModeReal && r.Version != "" {
			return r.Version
		}
	}
	return ""
}

// CheckArtifact applies the index rules to a fetched artifact.
func (p *Policy) CheckArtifact(art *fetch.Artifact, prev *install.Receipt) error {
	if p == nil || p.Key == nil || art == nil {
		return nil
	}
	if last := LastSerial(prev); art.IndexSigned && art.IndexSerial < last {
		return refuse(ruleSerial, "the signed index has serial %d, but this root already saw serial %d", art.IndexSerial, last).
			WithHint("the mirror serves an older index than the one this install came from (stale mirror or rollback attack); use an up-to-date mirror")
	}
	return nil
}

// CheckVersion applies the minimum version and the downgrade rule to the version
// about to be installed.
func (p *Policy) CheckVersion(version string, prev *install.Receipt) error {
	if p == nil {
		return nil
	}
	known := version != "" && version != "latest" && version != "unknown"
	if p.MinVersion != "" {
		if !known {
			return refuse(ruleMinVersion, "the bundle's version is unknown, so it cannot be checked against the minimum version %s", p.MinVersion)
		}
		if slurmver.Compare(version, p.MinVersion) < 0 {
			return refuse(ruleMinVersion, "version %s is below the minimum version %s", version, p.MinVersion).
				WithHint("the mirror offers an older bundle than this image accepts; publish a newer one").
				Suggest(failure.LowerMinVersion)
		}
	}
	if p.Key == nil || p.AllowDowngrade || !known {
		return nil
	}
	if cur := installedVersion(prev); cur != "" && slurmver.Compare(version, cur) < 0 {
		return refuse(ruleDowngrade, "version %s is older than the installed %s", version, cur).
			Suggest(failure.AllowDowngrade)
	}
	return nil
}

// CheckLocal: with a key pinned, a local bundle has no signed index, so
// only a digest the operator pins can vouch for it.
func (p *Policy) CheckLocal(from, sha string) error {
	if p == nil || p.Key == nil || from == "" || sha != "" {
		return nil
	}
	return refuse(ruleLocalFile, "a key is pinned and the local bundle %s has no signed index: only its digest, taken from the signed index.json (or the publisher), can vouch for it", from).
		Suggest(failure.PinDigest)
}

// compareVersions compares dotted versions numerically (internal/slurmver).
