package app

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/internal/failure"
)

// newLogger builds the one logger of a run: console lines on a terminal,
// plain one-event-per-line text when stderr is not a terminal (build logs),
// JSON when asked. Everything goes to stderr; stdout is for machine output.
func newLogger(w io.Writer, format, level string, quiet bool) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		return zerolog.Nop(), failure.New(failure.Usage, "--log-level %q: use debug, info, warn or error", level)
	}
	if quiet && lvl < zerolog.WarnLevel {
		lvl = zerolog.WarnLevel
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	var out io.Writer
	w = fetch.RedactWriter(w) // no log line carries a password from a mirror URL (issue 13)
	switch format {
	case "json":
		out = w
	case "console", "auto", "":
		cw := zerolog.ConsoleWriter{Out: w, NoColor: !tty || os.Getenv("NO_COLOR") != "", TimeFormat: time.TimeOnly}
		if !tty {
			cw.TimeFormat = time.RFC3339
		}
		if format == "console" && tty {
			cw.NoColor = os.Getenv("NO_COLOR") != ""
		}
		out = cw
	default:
		return zerolog.Nop(), failure.New(failure.Usage, "--log-format %q: use auto, console or json", format)
	}
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00" // milliseconds: an install takes a fraction of a second
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}
