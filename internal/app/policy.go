package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/trust"
)

// DefaultPubKey is the minisign public key pinned when --pubkey is not
// given. Image builders bake their publisher's key into the binary:
//
//	go build -ldflags "-X slurm-installer/internal/app.DefaultPubKey=RW..."
//
// (make build PUBKEY=RW...). Empty means no key is built in.
var DefaultPubKey string

// The rules that can stop an install (docs/DESIGN.md §6, issue 5). Each refusal
// names its rule so an operator knows which flag or which mirror to look at.
const (
	ruleSignature  = "signature"        // the index must verify against the pinned key (enforced by fetch)
	ruleExpiry     = "index-expiry"     // a signed index past its expiry is refused (freeze attack)
	ruleSerial     = "index-serial"     // a signed index older than the last one seen is refused (rollback)
	ruleDowngrade  = "downgrade"        // a version older than the installed one needs --allow-downgrade
	ruleMinVersion = "min-version"      // a version below --min-version is refused
	ruleLocalFile  = "pinned-key-local" // --from with a pinned key needs --sha256
)

// policy is the trust configuration of one run.
type policy struct {
	key            *trust.Key // nil: no key pinned; downloads are unauthenticated
	allowDowngrade bool
	minVersion     string
	now            func() time.Time
	seenSerial     int64 // the highest index serial the receipt remembers (set before a fetch)
}

// parsePolicy reads --pubkey (or the built-in key), --allow-downgrade and
// --min-version.
// policyFlags are the trust flags as given.
type policyFlags struct {
	allowDowngrade     bool
	minVersion, pubkey string
}

func parsePolicy(f policyFlags) (*policy, error) {
	p := &policy{allowDowngrade: f.allowDowngrade, minVersion: strings.TrimSpace(f.minVersion), now: time.Now}
	if p.minVersion != "" && !numericVersion(p.minVersion) {
		return nil, failure.New(failure.Usage, "--min-version %q is not a dotted version such as 23.02.1", p.minVersion)
	}
	raw, source := strings.TrimSpace(f.pubkey), "--pubkey"
	if raw == "" {
		raw, source = strings.TrimSpace(DefaultPubKey), "built-in key"
	}
	if raw == "" {
		return p, nil
	}
	k, err := trust.ParseKey(raw, source)
	if err != nil {
		return nil, err
	}
	p.key = k
	return p, nil
}

// fetchOptions adds the signature requirement to o when a key is pinned.
func (p *policy) fetchOptions(o *fetch.Options, log zerolog.Logger) {
	if p == nil || p.key == nil {
		log.Warn().Msg("download is unauthenticated: no --pubkey pinned (the mirror's checksums catch corruption, not tampering)")
		return
	}
	o.RequireSignedIndex = true
	o.IndexVerifier = p.key.VerifyIndex
	// The rollback rule per mirror (issue 13): a stale mirror listed first
	// is skipped, not the end of the run. checkArtifact stays the backstop.
	seen := p.seenSerial
	o.AcceptIndex = func(idx *fetch.Index) error {
		if idx.Serial < seen {
			return refuse(ruleSerial, "the signed index has serial %d, but this root already saw serial %d", idx.Serial, seen)
		}
		return nil
	}
	log.Info().Str("key_id", p.key.ID()).Str("from", p.key.Source).Msg("key pinned: the bundle must come from an index signed by it")
}

func refuse(rule, format string, args ...any) *failure.Error {
	return failure.New(failure.Integrity, "refused by rule %s: %s", rule, fmt.Sprintf(format, args...))
}

// lastSerial is the highest index serial the receipt chain remembers.
func lastSerial(r *install.Receipt) int64 {
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

// checkArtifact applies the index rules to a fetched artifact.
func (p *policy) checkArtifact(art *fetch.Artifact, prev *install.Receipt) error {
	if p == nil || p.key == nil || art == nil {
		return nil
	}
	if !art.IndexExpires.IsZero() && p.now().After(art.IndexExpires) {
		return refuse(ruleExpiry, "the signed index expired at %s", art.IndexExpires.Format(time.RFC3339)).
			WithHint("the publisher must re-sign the index (slurm-installer pack --sign-key); an index that is never refreshed could be replayed forever")
	}
	if last := lastSerial(prev); art.IndexSigned && art.IndexSerial < last {
		return refuse(ruleSerial, "the signed index has serial %d, but this root already saw serial %d", art.IndexSerial, last).
			WithHint("the mirror serves an older index than the one this install came from (stale mirror or rollback attack); use an up-to-date mirror")
	}
	return nil
}

// checkVersion applies --min-version and the downgrade rule to the version
// about to be installed.
func (p *policy) checkVersion(version string, prev *install.Receipt) error {
	if p == nil {
		return nil
	}
	known := version != "" && version != "latest" && version != "unknown"
	if p.minVersion != "" {
		if !known {
			return refuse(ruleMinVersion, "the bundle's version is unknown, so it cannot be checked against --min-version %s", p.minVersion)
		}
		if compareVersions(version, p.minVersion) < 0 {
			return refuse(ruleMinVersion, "version %s is below --min-version %s", version, p.minVersion).
				WithHint("the mirror offers an older bundle than this image accepts; publish a newer one or lower --min-version")
		}
	}
	if p.key == nil || p.allowDowngrade || !known {
		return nil
	}
	if cur := installedVersion(prev); cur != "" && compareVersions(version, cur) < 0 {
		return refuse(ruleDowngrade, "version %s is older than the installed %s", version, cur).
			WithHint("pass --allow-downgrade to install an older version on purpose")
	}
	return nil
}

// checkLocal: with a key pinned, a local bundle has no signed index, so
// only a digest the operator gives (--sha256) can vouch for it.
func (p *policy) checkLocal(cfg *installConfig) error {
	if p == nil || p.key == nil || cfg.from == "" || cfg.sha != "" {
		return nil
	}
	return refuse(ruleLocalFile, "a key is pinned and --from %s has no signed index; pass its --sha256", cfg.from).
		WithHint("take the digest from the signed index.json (or the publisher), e.g. --sha256 $(jq -r ...)")
}

// compareVersions compares dotted versions numerically (22.05.8 < 23.02.1
// < 23.11.10); a part that is not a number compares as text after numbers,
// and missing parts count as 0 (23.02 == 23.02.0). It returns -1, 0 or 1.
func compareVersions(a, b string) int {
	as, bs := splitVersion(a), splitVersion(b)
	for i := range max(len(as), len(bs)) {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func splitVersion(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '-' || r == '_' || r == '+' })
}

func comparePart(x, y string) int {
	nx, ex := strconv.ParseUint(x, 10, 64)
	ny, ey := strconv.ParseUint(y, 10, 64)
	switch {
	case ex == nil && ey == nil:
		switch {
		case nx < ny:
			return -1
		case nx > ny:
			return 1
		}
		return 0
	case ex == nil:
		return -1
	case ey == nil:
		return 1
	}
	return strings.Compare(x, y)
}

// numericVersion: digits separated by dots, e.g. 23.02.1.
func numericVersion(v string) bool {
	if v == "" {
		return false
	}
	for _, p := range strings.Split(v, ".") {
		if _, err := strconv.ParseUint(p, 10, 64); err != nil {
			return false
		}
	}
	return true
}
