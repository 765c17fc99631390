// Package app defines the slurm-installer command line: its commands and
// flags, and the run that ties fetch, install and verify together. main.go
// only runs it and maps its errors to exit codes.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/internal/failure"
)

// Version is stamped by main at build time.
var Version = "dev"

// ui is a run's output: the logger (stderr) and the writers. It is passed
// to every command; nothing in the package writes anywhere else.
type ui struct {
	log    zerolog.Logger
	stdout io.Writer
	stderr io.Writer
	// target is the running command's target flags (nil before they are
	// read): hints quote them (hint).
	target *targetOptions
	// jsonDone: the command printed its JSON document on stdout (so an
	// error it returns needs no JSON error object, see Run).
	jsonDone bool
}

// hint is hintOf(err) with the run's target flags in every command line
// it quotes.
func (u *ui) hint(err error) string { return withTarget(hintOf(err), targetArgs(u.target)) }

// newApp returns the CLI application writing to stdout and stderr: one
// command per file, each with its own options bound to its own flags
// (flags.go).
func newApp(stdout, stderr io.Writer) *cli.App {
	u := &ui{stdout: stdout, stderr: stderr}
	u.log = bootLogger(u.stderr, nil)
	return u.app()
}

func (u *ui) app() *cli.App {
	def, defFlags, cmds := u.commands()
	a := &cli.App{
		Name:  "slurm-installer",
		Usage: "install a verified SLURM client from AppHub mirrors into this image or a --root",
		Description: "With no command, installs (the same as `install`). Every flag can also be set through\n" +
			"an environment variable SLURM_INSTALLER_<FLAG>, e.g. SLURM_INSTALLER_MIRRORS.\n\n" +
			"Exit codes: 0 ok (or demo fallback), 1 bug, 2 usage, 3 demo/not installed, 4 download,\n" +
			"5 integrity, 6 archive rejected, 7 file system, 8 verification, 9 locked,\n" +
			"130/143 stopped by SIGINT/SIGTERM (nothing recorded).\n\n" +
			"Examples:\n" +
			"   slurm-installer --mirrors http://apphub.example/ --strict       # install; fail the build if it cannot\n" +
			"   slurm-installer list --mirrors http://apphub.example/ --root R  # what the mirror offers, what runs in R\n" +
			"   slurm-installer status --json                                   # exit 3: demo mode or nothing installed\n" +
			"Reference: docs/USAGE.md; JSON output: docs/JSON.md.",
		Version: Version,
		// No command is install: the app takes install's flags (which also
		// lets the target and output flags come before any command name).
		Flags:                  defFlags,
		Action:                 def.Action,
		Before:                 def.Before,
		ExitErrHandler:         func(*cli.Context, error) {},
		UseShortOptionHandling: true,
		Commands: append(cmds,
			&cli.Command{Name: "version", Usage: "print the installer's version", Action: func(c *cli.Context) error {
				u.printVersion()
				return nil
			}},
			u.completionCommand(),
		),
	}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the installer's version and exit"}
	cli.VersionPrinter = func(*cli.Context) { u.printVersion() }
	cli.FlagStringer = flagString
	a.Writer, a.ErrWriter = u.stdout, u.stderr
	a.OnUsageError = usageError
	for _, c := range a.Commands {
		c.OnUsageError = usageError
		addExamples(c)
	}
	tailor(a)
	return a
}

// before loads a command's bound options and sets up its logger; t, when
// given, is the command's target (the hints quote it).
func (u *ui) before(b *binder, out *outputOptions, t ...*targetOptions) cli.BeforeFunc {
	return func(c *cli.Context) error {
		b.load(c)
		if len(t) > 0 {
			u.target = t[0]
		}
		return u.setupLog(*out)
	}
}

func (u *ui) printVersion() {
	fmt.Fprintf(u.stdout, "slurm-installer %s (%s, %s/%s%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, buildNote)
}

func (u *ui) setupLog(o outputOptions) error {
	l, err := newLogger(u.stderr, o.logFormat, o.logLevel, o.quiet)
	if err != nil {
		return err
	}
	u.log = l
	return nil
}

// Run runs the command line in args. A run stopped by a signal (ctx
// cancelled with a *failure.Signal cause) ends with that signal's class
// (exit 130/143) whatever error the interrupted step returned (a run that
// finished its work before it noticed the signal succeeds); a panic ends
// as an internal error (exit 1), never as another class.
//
// The run's output goes to stdout and stderr; its final error, if any, is
// logged once (with its class and hint) before Run returns it.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	u := &ui{stdout: stdout, stderr: stderr}
	u.log = bootLogger(u.stderr, args)
	defer func() {
		if r := recover(); r != nil {
			err = failure.New(failure.Internal, "panic: %v\n%s", r, debug.Stack())
		}
		u.report(err)
		if err != nil && !u.jsonDone && wantsJSON(args) {
			u.printJSONError(err)
		}
	}()
	a := u.app()
	err = a.RunContext(ctx, args)
	var ec cli.ExitCoder
	if errors.As(err, &ec) && !errors.As(err, new(*failure.Error)) {
		// urfave/cli's own exits ("No help topic for 'x'") are usage errors.
		word := ""
		if m := reHelpTopic.FindStringSubmatch(err.Error()); m != nil {
			word = m[1]
		}
		if word != "" {
			err = unknownCommand(a, word)
		} else {
			err = failure.New(failure.Usage, "%s", err.Error()).WithHint("see `slurm-installer --help`")
		}
	}
	if err != nil {
		if serr := failure.Stopped(ctx, err); serr != nil {
			return serr
		}
	}
	return err
}

// quietError is a final error whose exit code matters but whose story the
// command already told on stdout (status with nothing installed: exit 3,
// "mode: none"): report logs no error line for it.
type quietError struct{ error }

func (q quietError) Unwrap() error { return q.error }

// report logs a run's final error with its class and hint, once.
func (u *ui) report(err error) {
	if err == nil || errors.As(err, new(quietError)) {
		return
	}
	c := failure.ClassOf(err)
	ev := u.log.Error().Str("class", c.String()).Int("exit", int(c))
	if h := u.hint(err); h != "" {
		ev = ev.Str("hint", h)
	}
	if c == failure.Internal {
		ev = ev.Str("note", "this is a bug in slurm-installer; please report it with the log above")
	}
	ev.Msg(err.Error())
}

var reHelpTopic = regexp.MustCompile(`No help topic for '([^']*)'`)

// usageError gives flag-parsing errors the usage class (exit 2), in the
// installer's words.
func usageError(c *cli.Context, err error, _ bool) error {
	flags := c.App.Flags
	if c.Command != nil && c.Command.Name != "" {
		flags = c.Command.Flags
	}
	return usageErrorFor(flags, err)
}

// wantsJSON says whether the command line (or SLURM_INSTALLER_JSON) asks
// for --json, read from the raw arguments: a usage error can come before
// any flag is parsed.
func wantsJSON(args []string) bool {
	v := os.Getenv("SLURM_INSTALLER_JSON")
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "-json" {
			v = "true"
		} else if x, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "json="); ok && strings.HasPrefix(a, "-") {
			v = x
		}
	}
	b, _ := strconv.ParseBool(v)
	return b
}

// jsonError is the JSON document of a run that ends before its command
// printed its own (a usage error, a bug): the keys every --json result
// shares (docs/JSON.md).
type jsonError struct {
	Status string `json:"status"` // always "error"
	Reason string `json:"reason"`
	Class  string `json:"failure_class"`
	Hint   string `json:"hint"`
	Exit   int    `json:"exit_code"`
}

func (u *ui) printJSONError(err error) {
	c := failure.ClassOf(err)
	enc := json.NewEncoder(fetch.RedactWriter(u.stdout))
	enc.SetIndent("", "  ")
	_ = enc.Encode(jsonError{Status: "error", Reason: err.Error(), Class: c.String(), Hint: u.hint(err), Exit: int(c)})
}
