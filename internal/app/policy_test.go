package app

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
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
			if got := compareVersions(ordered[i], ordered[j]); got != want {
				t.Errorf("compareVersions(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if compareVersions("23.02", "23.02.0") != 0 || compareVersions("023.2", "23.02") != 0 {
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
	p := &policy{key: key, now: func() time.Time { return now }}
	prev := &install.Receipt{Mode: install.ModeReal, Version: "23.02.1", IndexSerial: 5}
	demoOverReal := &install.Receipt{Mode: install.ModeDemo, IndexSerial: 2, Previous: prev}

	ok := &fetch.Artifact{IndexSigned: true, IndexSerial: 5, IndexExpires: now.Add(time.Hour)}
	if err := p.checkArtifact(ok, prev); err != nil {
		t.Fatal(err)
	}
	wantRule(t, p.checkArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 6, IndexExpires: now.Add(-time.Second)}, prev), ruleExpiry)
	wantRule(t, p.checkArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 4}, prev), ruleSerial)
	wantRule(t, p.checkArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 4}, demoOverReal), ruleSerial)
	if err := p.checkArtifact(&fetch.Artifact{IndexSigned: true, IndexSerial: 1}, nil); err != nil {
		t.Fatalf("no receipt, any serial: %v", err)
	}

	if err := p.checkVersion("23.11.10", prev); err != nil {
		t.Fatal(err)
	}
	wantRule(t, p.checkVersion("22.05.8", prev), ruleDowngrade)
	wantRule(t, p.checkVersion("22.05.8", demoOverReal), ruleDowngrade)
	p.allowDowngrade = true
	if err := p.checkVersion("22.05.8", prev); err != nil {
		t.Fatal(err)
	}
	p.minVersion = "23.02.1"
	wantRule(t, p.checkVersion("22.05.8", nil), ruleMinVersion)
	wantRule(t, p.checkVersion("latest", nil), ruleMinVersion)
	if err := p.checkVersion("23.02.1", nil); err != nil {
		t.Fatal(err)
	}

	// Without a key only --min-version applies: no downgrade, serial or expiry rules.
	unkeyed := &policy{now: time.Now}
	if err := unkeyed.checkVersion("22.05.8", prev); err != nil {
		t.Fatal(err)
	}
	if err := unkeyed.checkArtifact(&fetch.Artifact{IndexSerial: 1, IndexExpires: now.Add(-time.Hour)}, prev); err != nil {
		t.Fatal(err)
	}
	var nilPolicy *policy
	if nilPolicy.checkVersion("1", prev) != nil || nilPolicy.checkArtifact(ok, prev) != nil {
		t.Fatal("a nil policy refuses")
	}
	if lastSerial(demoOverReal) != 5 || installedVersion(demoOverReal) != "23.02.1" {
		t.Fatal("receipt chain")
	}
}

func TestParsePolicyBuiltInKey(t *testing.T) {
	parse := func(args ...string) (*policy, error) {
		var got *policy
		var perr error
		cmd := (&ui{stdout: io.Discard, stderr: io.Discard}).installCommand("")
		a := &cli.App{Flags: cmd.Flags, Before: cmd.Before, Action: func(c *cli.Context) error {
			var cfg installConfig
			b := &binder{}
			cfg.sourceFlags(b)
			cfg.installFlags(b)
			b.load(c)
			got, perr = parsePolicy(cfg.policyRaw)
			return nil
		}}
		if err := a.Run(append([]string{"x"}, args...)); err != nil {
			t.Fatal(err)
		}
		return got, perr
	}
	old := DefaultPubKey
	t.Cleanup(func() { DefaultPubKey = old })
	DefaultPubKey = ""
	if p, err := parse(); err != nil || p.key != nil {
		t.Fatalf("no key: %+v %v", p, err)
	}
	DefaultPubKey = "RWRkCg8ho9/5xEFFE3lIDaIrYINxH8ft4J+dA3P535DX/jx1W22bSHWb"
	p, err := parse()
	if err != nil || p.key == nil || p.key.ID() != "C4F9DFA3210F0A64" || p.key.Source != "built-in key" {
		t.Fatalf("built-in key: %+v %v", p, err)
	}
	// --pubkey wins over the built-in key.
	p, err = parse("--pubkey", "RWQhcC2Z2gF/daKIyZfM2efG656+bnnc4eLeflI3pnVkn7t/xPSY4fpx")
	if err != nil || p.key.ID() != "757F01DA992D7021" {
		t.Fatalf("--pubkey: %+v %v", p, err)
	}
	DefaultPubKey = "RWnot-a-key"
	if _, err := parse(); failure.ClassOf(err) != failure.Usage {
		t.Fatalf("bad built-in key: %v", err)
	}
	if _, err := parse("--min-version", "x.y"); failure.ClassOf(err) != failure.Usage {
		t.Fatalf("bad --min-version: %v", err)
	}
}
