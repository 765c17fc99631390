package app

// install --dry-run's output (issue 26): the plan internal/run resolved, for people.
import (
	"fmt"
	"strings"

	"slurm-installer/fetch"
	"slurm-installer/internal/run"
)

// printPlan prints the plan on stdout (not under --json: the result has it).
func (u *ui) printPlan(cfg *installConfig, p *run.Plan) {
	if cfg.json {
		return
	}
	out := u.stdout
	fmt.Fprintf(out, "dry run: %s in %s (nothing downloaded, nothing changed)\n", p.Action, p.Root)
	if b := p.Bundle; b != nil {
		for _, m := range b.Passed {
			fmt.Fprintf(out, "  passed:     %s: %s\n", m.Version, m.Reason)
		}
		fmt.Fprintf(out, "  mirror:     %s (%s layout)\n", b.Mirror, b.Layout)
		fmt.Fprintf(out, "  bundle:     %s\n", b.URL)
		fmt.Fprintf(out, "  version:    %s\n", orWord(b.Version, "named by the bundle's VERSION"))
		if b.Size > 0 {
			fmt.Fprintf(out, "  size:       %s\n", fetch.HumanBytes(b.Size))
		}
		fmt.Fprintf(out, "  sha256:     %s\n", orWord(b.SHA256, "none published"))
		fmt.Fprintf(out, "  verified:   %s (%s)\n", b.Verification, b.ChecksumSource)
		if b.SelfContained {
			fmt.Fprintln(out, "  libc:       self-contained (carries its own glibc)")
		} else if b.Glibc != "" {
			fmt.Fprintf(out, "  libc:       needs glibc %s\n", b.Glibc)
		}
		if b.Doubt != "" {
			fmt.Fprintf(out, "  may not run: %s (the install's preflight decides)\n", b.Doubt)
		}
		for _, s := range b.Skipped {
			fmt.Fprintf(out, "  skipped:    %s: %s\n", s.Version, s.Reason)
		}
	}
	for _, w := range p.Writes {
		fmt.Fprintf(out, "  would write %s\n", w)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(out, "  note:       %s\n", n)
	}
}

func orWord(s, word string) string {
	if strings.TrimSpace(s) == "" {
		return word
	}
	return s
}
