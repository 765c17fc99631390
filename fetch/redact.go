package fetch

import (
	"io"
	"regexp"
	"strings"
)

// userinfoRE matches the userinfo of a URL anywhere in a string:
// scheme "://" then everything up to the last "@" before the host ends.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s"'<>@]*)@`)

// Redacted is what a password in a URL is replaced with.
const Redacted = "xxxxx"

// Redact replaces the password of every URL in s (http://user:pass@host/)
// with [Redacted]; a user name without a password is kept. It is the one
// choke point for credentials: every mirror name, URL, cause and hint that
// fetch logs, returns or puts in an error passes through it, and callers
// route their own log output and results through it too ([RedactWriter]).
func Redact(s string) string {
	if len(s) < 4 {
		return s
	}
	return userinfoRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfoRE.FindStringSubmatch(m)
		user, _, hasPass := strings.Cut(sub[2], ":")
		if !hasPass {
			return m
		}
		return sub[1] + user + ":" + Redacted + "@"
	})
}

// RedactAll redacts every string of ss (a mirror list for a log line).
func RedactAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Redact(s)
	}
	return out
}

// RedactWriter returns a writer that redacts each Write before passing it
// on to w: wrap a logger's output with it so no event, whoever logs it,
// can carry a password (zerolog writes one event per Write).
func RedactWriter(w io.Writer) io.Writer { return redactWriter{w} }

type redactWriter struct{ w io.Writer }

func (r redactWriter) Write(p []byte) (int, error) {
	s := Redact(string(p))
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
