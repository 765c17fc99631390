package app

import (
	"io"
	"testing"

	"github.com/urfave/cli/v2"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/policy"
)

func TestParsePolicyBuiltInKey(t *testing.T) {
	parse := func(args ...string) (*policy.Policy, error) {
		var got *policy.Policy
		var perr error
		cmd := (&ui{stdout: io.Discard, stderr: io.Discard}).installCommand("")
		a := &cli.App{Flags: cmd.Flags, Before: cmd.Before, Action: func(c *cli.Context) error {
			var cfg installConfig
			b := &binder{}
			cfg.sourceFlags(b)
			cfg.installFlags(b)
			b.load(c)
			got, perr = policy.Parse(cfg.policyRaw, DefaultPubKey)
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
	if p, err := parse(); err != nil || p.Key != nil {
		t.Fatalf("no key: %+v %v", p, err)
	}
	DefaultPubKey = "RWRkCg8ho9/5xEFFE3lIDaIrYINxH8ft4J+dA3P535DX/jx1W22bSHWb"
	p, err := parse()
	if err != nil || p.Key == nil || p.Key.ID() != "C4F9DFA3210F0A64" || p.Key.Source != "built-in key" {
		t.Fatalf("built-in key: %+v %v", p, err)
	}
	// --pubkey wins over the built-in key.
	p, err = parse("--pubkey", "RWQhcC2Z2gF/daKIyZfM2efG656+bnnc4eLeflI3pnVkn7t/xPSY4fpx")
	if err != nil || p.Key.ID() != "757F01DA992D7021" {
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
