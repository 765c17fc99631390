package policy

import (
	"errors"
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
	wantRule(t, p.AcceptIndex(&index.Index{Serial: 6, Expires: now.Add(-time.Second)}), RuleExpiry)
	wantRule(t, p.AcceptIndex(&index.Index{Serial: 4, Expires: now.Add(time.Hour)}), RuleSerial)
	wantRule(t, p.CheckArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 4}, prev), RuleSerial)
	wantRule(t, p.CheckArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 4}, demoOverReal), RuleSerial)
	if err := p.CheckArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 1}, nil); err != nil {
		t.Fatalf("no receipt, any serial: %v", err)
	}

	if err := p.CheckVersion("23.11.10", prev); err != nil {
		t.Fatal(err)
	}
	wantRule(t, p.CheckVersion("22.05.8", prev), RuleDowngrade)
	wantRule(t, p.CheckVersion("22.05.8", demoOverReal), RuleDowngrade)
	p.AllowDowngrade = true
	if err := p.CheckVersion("22.05.8", prev); err != nil {
		t.Fatal(err)
	}
	p.MinVersion = "23.02.1"
	wantRule(t, p.CheckVersion("22.05.8", nil), RuleMinVersion)
	wantRule(t, p.CheckVersion("latest", nil), RuleMinVersion)
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
	var nilPolicy *Policy
	if nilPolicy.CheckVersion("1", prev) != nil || nilPolicy.CheckArtifact(ok, prev) != nil {
		t.Fatal("a nil policy refuses")
	}
	if LastSerial(demoOverReal) != 5 || installedVersion(demoOverReal) != "23.02.1" {
		t.Fatal("receipt chain")
	}
}
