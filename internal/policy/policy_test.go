package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/slurmver"
	"slurm-installer/trust"
)

func TestCompareVersions(t *testing.T) {
	ordered := []string{"22.05.8", "22.05.10", "23.02", "23.02.1", "23.02.1-2", "23.11.10", "24.05.1", "24.05.1-rc1"}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := slurmver.Compare(ordered[i], ordered[j]); got != want {
				t.Errorf("slurmver.Compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if slurmver.Compare("23.02", "23.02.0") != 0 || slurmver.Compare("023.2", "23.02") != 0 {
		t.Error("missing parts and leading zeros should compare equal")
	}
}

func wantRule(t *testing.T, err error, rule string) {
	t.Helper()
	var fe *failure.Error
	if !errors.As(err, &fe) || fe.Class != failure.Integrity || !strings.Contains(err.Error(), "rule "+rule) {
		t.Fatalf("got %v, want an integrity error naming rule %s", err, rule)
	}
}

// wantStep: err suggests the remedy s (worded by the CLI, never here).
func wantStep(t *testing.T, err error, s failure.Step) {
	t.Helper()
	if !slices.Contains(failure.Steps(err), s) {
		t.Fatalf("%v: remedies %v, want %v", err, failure.Steps(err), s)
	}
}

func TestPolicy(t *testing.T) {
	const pub = "RWRkCg8ho9/5xEFFE3lIDaIrYINxH8ft4J+dA3P535DX/jx1W22bSHWb"
	key, err := trust.ParseKey(pub, "test")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	p := &Policy{Key: key, Now: func() time.Time { return now }}
	prev := &install.Receipt{Mode: install.ModeReal, Version: "23.02.1", IndexSerial: 5}
	demoOverReal := &install.Receipt{Mode: install.ModeDemo, IndexSerial: 2, Previous: prev}

	ok := &fetch.Artifact{IndexSigned: true, IndexSerial: 5, IndexExpires: now.Add(time.Hour)}
	if err := p.CheckArtifact(ok, prev); err != nil {
		t.Fatal(err)
	}
	p.SeenSerial = 5
	if err := p.AcceptIndex(&index.Index{Serial: 5, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	wantRule(t, p.AcceptIndex(&index.Index{Serial: 6, Expires: now.Add(-time.Second)}), ruleExpiry)
	wantStep(t, p.AcceptIndex(&index.Index{Serial: 6, Expires: now.Add(-time.Second)}), failure.SignIndex)
	wantRule(t, p.AcceptIndex(&index.Index{Serial: 4, Expires: now.Add(time.Hour)}), ruleSerial)
	wantRule(t, p.CheckArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 4}, prev), ruleSerial)
	wantRule(t, p.CheckArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 4}, demoOverReal), ruleSerial)
	if err := p.CheckArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 1}, nil); err != nil {
		t.Fatalf("no receipt, any serial: %v", err)
	}

	if err := p.CheckVersion("23.11.10", prev); err != nil {
		t.Fatal(err)
	}
	wantRule(t, p.CheckVersion("22.05.8", prev), ruleDowngrade)
	wantStep(t, p.CheckVersion("22.05.8", prev), failure.AllowDowngrade)
	wantRule(t, p.CheckVersion("22.05.8", demoOverReal), ruleDowngrade)
	p.AllowDowngrade = true
	if err := p.CheckVersion("22.05.8", prev); err != nil {
		t.Fatal(err)
	}
	p.MinVersion = "23.02.1"
	wantRule(t, p.CheckVersion("22.05.8", nil), ruleMinVersion)
	wantStep(t, p.CheckVersion("22.05.8", nil), failure.LowerMinVersion)
	wantRule(t, p.CheckVersion("latest", nil), ruleMinVersion)
	if err := p.CheckVersion("23.02.1", nil); err != nil {
		t.Fatal(err)
	}

	// Without a key only --min-version applies: no downgrade, serial or expiry rules.
	unkeyed := &Policy{Now: time.Now}
	if err := unkeyed.CheckVersion("22.05.8", prev); err != nil {
		t.Fatal(err)
	}
	if err := unkeyed.CheckArtifact(&fetch.Artifact{IndexSerial: 1, IndexExpires: now.Add(-time.Hour)}, prev); err != nil {
		t.Fatal(err)
	}
	// A local bundle with a key pinned needs a pinned digest.
	wantRule(t, p.CheckLocal("/tmp/b.tar.gz", ""), ruleLocalFile)
	wantStep(t, p.CheckLocal("/tmp/b.tar.gz", ""), failure.PinDigest)
	if err := p.CheckLocal("/tmp/b.tar.gz", strings.Repeat("0", 64)); err != nil {
		t.Fatalf("pinned local bundle: %v", err)
	}

	var nilPolicy *Policy
	if nilPolicy.CheckVersion("1", prev) != nil || nilPolicy.CheckArtifact(ok, prev) != nil {
		t.Fatal("a nil policy refuses")
	}
	if LastSerial(demoOverReal) != 5 || installedVersion(demoOverReal) != "23.02.1" {
		t.Fatal("receipt chain")
	}
}

// The messages name settings in the domain's words; the key's label is a
// domain one too (the CLI's flag name stays out of the domain).
func TestParseWords(t *testing.T) {
	_, err := Parse(Flags{MinVersion: "x.y"}, "")
	if failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), `minimum version "x.y"`) {
		t.Fatalf("bad minimum version: %v", err)
	}
	_, err = Parse(Flags{PubKey: "RWnotakey"}, "")
	if failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "pinned key") || strings.Contains(err.Error(), "--") {
		t.Fatalf("bad pinned key: %v", err)
	}
	p, err := Parse(Flags{PubKey: "RWRkCg8ho9/5xEFFE3lIDaIrYINxH8ft4J+dA3P535DX/jx1W22bSHWb"}, "")
	if err != nil || p.Key.Source != "pinned key" {
		t.Fatalf("pinned key: %v, source %q", err, p.Key.Source)
	}
}
