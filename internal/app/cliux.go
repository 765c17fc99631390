package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"slurm-installer/internal/failure"
)

// bootLogger is the logger for what happens before a command's own setup
// runs (flag errors, unknown commands): timestamped, and in the format the
// command line or SLURM_INSTALLER_LOG_FORMAT asks for, so a JSON pipeline
// never sees a console line.
func bootLogger(stderr io.Writer, args []string) zerolog.Logger {
	format := os.Getenv("SLURM_INSTALLER_LOG_FORMAT")
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--log-format="); ok {
			format = v
		} else if (a == "--log-format" || a == "-log-format") && i+1 < len(args) {
			format = args[i+1]
		}
	}
	if format != "json" && format != "console" {
		format = "auto"
	}
	l, err := newLogger(stderr, format, "info", false)
	if err != nil {
		l, _ = newLogger(stderr, "auto", "info", false)
	}
	return l
}

// commandNames lists the application's commands, from its command table.
func commandNames(a *cli.App) []string {
	var names []string
	for _, c := range a.Commands {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	return names
}

// suggest returns the candidate closest to s when it is close enough to be
// a likely typo ("instal" → "install").
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := levenshtein(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len(s)/3) || (best != "" && strings.HasPrefix(best, s) && len(s) >= 3) {
		return best
	}
	return ""
}

// levenshtein is the edit distance between a and b where swapping two
// neighbouring letters counts as one edit (optimal string alignment), so
// --jsno is as close to --json as --jsn is.
func levenshtein(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// unknownCommand is the usage error for a stray word where a command or no
// argument was expected.
func unknownCommand(a *cli.App, word string) error {
	e := failure.New(failure.Usage, "unknown command or unexpected argument %q", word)
	names := commandNames(a)
	if s := suggest(word, names); s != "" {
		return e.WithHint("did you mean `slurm-installer %s`? commands are %s; see --help", s, strings.Join(names, ", "))
	}
	return e.WithHint("commands are %s; see --help", strings.Join(names, ", "))
}

var (
	reUndefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+([^ ]+)$`)
	reBadValue      = regexp.MustCompile(`^invalid value "([^"]*)" for flag -+([^:]+): (.*)$`)
	reBadEnv        = regexp.MustCompile(`^could not parse "([^"]*)" as (\w+) value from environment variable "([^"]+)" for flag ([^:]+): (.*)$`)
)

// flagNames lists every flag name a command (or the app) accepts.
func flagNames(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	sort.Strings(names)
	return names
}

// usageErrorFor rewrites urfave/cli's flag errors into the installer's
// words: GNU spelling (--flag), a "did you mean" for a misspelled flag, and
// the unit a bare number lacks.
func usageErrorFor(flags []cli.Flag, err error) error {
	msg := err.Error()
	if m := reUndefinedFlag.FindStringSubmatch(msg); m != nil {
		e := failure.New(failure.Usage, "unknown flag --%s", m[1])
		if s := suggest(m[1], flagNames(flags)); s != "" {
			return e.WithHint("did you mean --%s? see `slurm-installer --help`", s)
		}
		return e.WithHint("see `slurm-installer --help`")
	}
	if m := reBadEnv.FindStringSubmatch(msg); m != nil {
		val, kind, envName, why := m[1], m[2], m[3], m[5]
		if kind == "duration" {
			if _, nerr := strconv.ParseFloat(val, 64); nerr == nil {
				return failure.New(failure.Usage, "%s=%q: a duration needs a unit, e.g. %ss or %sm", envName, val, val, val).
					WithHint("durations are written like 10s, 1m30s, 500ms")
			}
		}
		return failure.New(failure.Usage, "%s=%q is not a valid %s: %s", envName, val, kind, why).WithHint("see `slurm-installer --help`")
	}
	if m := reBadValue.FindStringSubmatch(msg); m != nil {
		val, name, why := m[1], m[2], m[3]
		for _, f := range flags {
			if !hasName(f, name) {
				continue
			}
			if _, isDur := f.(*cli.DurationFlag); isDur {
				if _, nerr := strconv.ParseFloat(val, 64); nerr == nil {
					return failure.New(failure.Usage, "--%s %q: a duration needs a unit, e.g. %ss or %sm", name, val, val, val).
						WithHint("durations are written like 10s, 1m30s, 500ms")
				}
				return failure.New(failure.Usage, "--%s %q is not a duration", name, val).
					WithHint("durations are written like 10s, 1m30s, 500ms")
			}
		}
		var se *sizeError
		if errors.As(err, &se) || strings.Contains(why, "size") {
			return failure.New(failure.Usage, "--%s %q: %s", name, val, why).WithHint("sizes are written like 2GiB, 512MiB, 500M or a number of bytes")
		}
		return failure.New(failure.Usage, "--%s %q: %s", name, val, why).WithHint("see `slurm-installer --help`")
	}
	return failure.New(failure.Usage, "%w", err).WithHint("see `slurm-installer --help`")
}

func hasName(f cli.Flag, name string) bool {
	for _, n := range f.Names() {
		if n == name {
			return true
		}
	}
	return false
}

// sizeValue is a byte count that reads units: 2GiB, 512MiB, 500M, 1.5G,
// 1048576. K/M/G/T without i are powers of 1000 only when spelled KB/MB/GB/TB;
// bare K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, as in `du` and the
// README.
type sizeValue struct{ n int64 }

type sizeError struct{ msg string }

func (e *sizeError) Error() string { return e.msg }

func (s *sizeValue) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	s.n = n
	return nil
}

func (s *sizeValue) String() string {
	if s == nil {
		return ""
	}
	return humanSize(s.n)
}

func parseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	i := 0
	for i < len(t) && (t[i] == '.' || (t[i] >= '0' && t[i] <= '9')) {
		i++
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, &sizeError{"not a size"}
	}
	mult := map[string]float64{"": 1, "B": 1,
		"K": 1 << 10, "KI": 1 << 10, "KIB": 1 << 10, "KB": 1e3,
		"M": 1 << 20, "MI": 1 << 20, "MIB": 1 << 20, "MB": 1e6,
		"G": 1 << 30, "GI": 1 << 30, "GIB": 1 << 30, "GB": 1e9,
		"T": 1 << 40, "TI": 1 << 40, "TIB": 1 << 40, "TB": 1e12}
	m, ok := mult[unit]
	if !ok {
		return 0, &sizeError{fmt.Sprintf("unknown size unit %q (use B, KiB, MiB, GiB, TiB, or K, M, G, T)", t[i:])}
	}
	n := f * m
	if n < 1 || n > 1<<62 {
		return 0, &sizeError{"size out of range"}
	}
	return int64(n), nil
}

func humanSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// defaultFlagString is urfave/cli's own flag line, which flagString trims.
var defaultFlagString = cli.FlagStringer

// flagString is a flag's line in --help: the first long name and the
// one-letter aliases only ("--mirrors value, -m value"), with any other long
// alias said in the text ("also --mirror"), no repeated names for a list
// flag, and no "(default: false)" on a switch. The names column stays as
// narrow as the longest plain flag name (issue 26).
func flagString(f cli.Flag) string {
	full := defaultFlagString(f)
	_, text, ok := strings.Cut(full, "\t")
	if !ok {
		return full
	}
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return full
	}
	value := ""
	if df.TakesValue() {
		value = " value"
	}
	var shown, also []string
	for i, n := range f.Names() {
		switch {
		case len(n) == 1:
			shown = append(shown, "-"+n+value)
		case i == 0:
			shown = append(shown, "--"+n+value)
		default:
			also = append(also, "--"+n)
		}
	}
	text = strings.Replace(text, " (default: false)", "", 1)
	if len(also) > 0 {
		text = "(also " + strings.Join(also, ", ") + ") " + text
	}
	return strings.Join(shown, ", ") + "\t" + text
}
