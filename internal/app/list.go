package app

// The list command (issue 26): what each mirror offers, and which of its
// bundles can run in --root.
import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/run"
)

// listOptions are list's: install's source flags and target, and --json.
type listOptions struct {
	installConfig
}

func (u *ui) listCommand() *cli.Command {
	o, b := &listOptions{}, &binder{}
	flags := append(o.out.flags(b), o.targetOptions.flags(b)...)
	flags = append(flags, o.sourceFlags(b)...)
	flags = append(flags, b.Bool(&o.json, &cli.BoolFlag{Name: "json", Usage: "print the listing as JSON on stdout", Category: catOutput}))
	o.flagsSet = b.isSet
	return &cli.Command{Name: "list", Usage: "what each mirror offers (version, arch, libc, size, how verified) and what can run in --root",
		Flags: flags, Before: u.before(b, &o.out, &o.targetOptions), Action: func(c *cli.Context) error { return u.runList(c, o) }}
}

// listView is `list --json` (docs/JSON.md).
type listView struct {
	Root    string               `json:"root"`
	Arch    string               `json:"arch"`
	Libc    string               `json:"libc"`
	Glibc   string               `json:"glibc"`
	Prefix  string               `json:"prefix"`
	Mirrors []fetch.MirrorOffers `json:"mirrors"`
}

func (u *ui) runList(c *cli.Context, o *listOptions) error {
	cfg := &o.installConfig
	if err := cfg.validate(c, u, true); err != nil {
		return err
	}
	if cfg.from != "" && len(cfg.mirrors) == 0 {
		return failure.New(failure.Usage, "list reads mirrors; --from names a local bundle").WithHint("pass --mirrors")
	}
	t, err := run.Detect(cfg.rootDir, cfg.arch, u.log)
	if err != nil {
		return err
	}
	// Only errors from the options' set-up: list downloads no bundle, so
	// the warning that a download would be unauthenticated does not apply.
	req := cfg.request(u)
	req.Log = u.log.Level(zerolog.ErrorLevel)
	fo := run.FetchOptions(req, t)
	fo.Log = u.log
	offers, err := fetch.List(c.Context, fo)
	if err != nil {
		return err
	}
	v := listView{Root: cfg.rootDir, Arch: t.Arch, Libc: string(t.Libc), Glibc: t.Glibc, Prefix: run.CleanPrefix(cfg.prefix), Mirrors: offers}
	if cfg.json {
		enc := json.NewEncoder(fetch.RedactWriter(u.stdout))
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		u.jsonDone = true
	} else {
		u.printList(v)
	}
	var errs []string
	for _, m := range offers {
		if m.Error == "" {
			return nil
		}
		errs = append(errs, m.Mirror+": "+m.Error)
	}
	return failure.New(failure.Download, "no mirror could be listed: %s", strings.Join(errs, "; ")).
		Suggest(failure.CheckSelection).Suggest(failure.RaiseTimeouts)
}

func (u *ui) printList(v listView) {
	out := fetch.RedactWriter(u.stdout)
	root := v.Libc
	if v.Glibc != "" {
		root += " " + v.Glibc
	}
	fmt.Fprintf(out, "root %s: %s, %s\n", v.Root, v.Arch, root)
	for _, m := range v.Mirrors {
		how := m.Layout
		if m.Signed {
			how += ", signed"
		}
		fmt.Fprintf(out, "\n%s (%s)\n", m.Mirror, orWord(string(how), "nothing listed"))
		if m.Error != "" {
			fmt.Fprintf(out, "  cannot list: %s\n", m.Error)
			continue
		}
		if len(m.Tags) > 0 {
			fmt.Fprintf(out, "  tags: %s\n", strings.Join(m.Tags, ", "))
		}
		if len(m.Offers) == 0 {
			fmt.Fprintln(out, "  no bundles")
			continue
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  VERSION\tARCH\tLIBC\tBUNDLE\tCOMPRESSION\tSIZE\tVERIFIED BY\tRUNS HERE")
		for _, of := range m.Offers {
			libc := "?"
			switch {
			case of.SelfContained:
				libc = "any"
			case of.Glibc != "":
				libc = "glibc>=" + of.Glibc
			}
			kind := "plain"
			if of.SelfContained {
				kind = "self-contained"
				if of.Prefix != "" {
					kind += " at " + of.Prefix
				}
			}
			size := "?"
			if of.Size > 0 {
				size = fetch.HumanBytes(of.Size)
			}
			runs := of.Runs
			if of.Why != "" {
				runs += ": " + of.Why
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orWord(of.Version, "?"), of.Arch, libc, kind,
				orWord(of.Compression, "-"), size, of.Verification, runs)
		}
		tw.Flush()
	}
}
