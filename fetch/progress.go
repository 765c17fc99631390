package fetch

import (
	"fmt"
	"io"
	"os"
	"time"
)

// ProgressMode says how Fetch reports a bundle download as it goes.
type ProgressMode int

const (
	ProgressOff  ProgressMode = iota // nothing (a quiet run)
	ProgressLog                      // after a quiet second, a plain log line every LogEvery or per 25 % (build logs)
	ProgressLive                     // a live line rewritten with \r on ProgressOut (a terminal)
)

// Progress intervals.
const (
	logEvery  = 5 * time.Second
	liveEvery = 200 * time.Millisecond
)

// logQuiet is how long a download runs before build logs hear about it: a
// bundle that arrives in under a second needs no progress lines.
var logQuiet = time.Second

// progress reports one download. A nil *progress reports nothing.
type progress struct {
	s       *session
	mode    ProgressMode
	out     io.Writer
	name    string
	total   int64 // -1 if unknown
	n       int64
	start   time.Time
	last    time.Time
	quarter int64 // last 25 % step logged
	drawn   bool  // a live line is on the screen
	shown   int64 // the byte count the line on the screen shows
}

func (s *session) newProgress(name string) *progress {
	if s.o.Progress == ProgressOff {
		return nil
	}
	out := s.o.ProgressOut
	if out == nil {
		out = os.Stderr
	}
	now := time.Now()
	return &progress{s: s, mode: s.o.Progress, out: out, name: name, total: -1, start: now, last: now}
}

func (p *progress) setTotal(t int64) {
	if p != nil && t > 0 {
		p.total = t
	}
}

func (p *progress) Write(b []byte) (int, error) {
	if p == nil {
		return len(b), nil
	}
	p.n += int64(len(b))
	now := time.Now()
	switch p.mode {
	case ProgressLive:
		if now.Sub(p.last) >= liveEvery {
			p.last = now
			p.draw(now)
		}
	case ProgressLog:
		q := int64(-1)
		if p.total > 0 {
			q = p.n * 4 / p.total
		}
		if now.Sub(p.start) < logQuiet {
			break
		}
		if now.Sub(p.last) >= logEvery || (q > p.quarter && q < 4) {
			p.last = now
			p.quarter = max(p.quarter, q)
			p.logLine(now)
		}
	}
	return len(b), nil
}

func (p *progress) rate(now time.Time) float64 {
	el := now.Sub(p.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(p.n) / el
}

// line is "12.3 MiB / 15.0 MiB (82%)  4.1 MiB/s  ETA 1s".
func (p *progress) line(now time.Time) string {
	r := p.rate(now)
	l := HumanBytes(p.n)
	if p.total > 0 {
		l += fmt.Sprintf(" / %s (%d%%)", HumanBytes(p.total), p.n*100/p.total)
	}
	l += fmt.Sprintf("  %s/s", HumanBytes(int64(r)))
	if p.total > 0 && r > 0 && p.n < p.total {
		l += "  ETA " + time.Duration(float64(p.total-p.n)/r*float64(time.Second)).Round(time.Second).String()
	}
	return l
}

func (p *progress) draw(now time.Time) {
	fmt.Fprintf(p.out, "\r\033[K%s  %s", p.name, p.line(now))
	p.drawn, p.shown = true, p.n
}

func (p *progress) logLine(now time.Time) {
	// The data is in the fields, once (issue 26): the message only names
	// the file.
	r := p.rate(now)
	ev := p.s.log.Info().Int64("bytes", p.n).Str("rate", HumanBytes(int64(r))+"/s")
	if p.total > 0 {
		ev = ev.Int64("size", p.total).Int64("percent", p.n*100/p.total)
		if r > 0 && p.n < p.total {
			ev = ev.Str("eta", time.Duration(float64(p.total-p.n)/r*float64(time.Second)).Round(time.Second).String())
		}
	}
	ev.Msg("downloading " + p.name)
}

// done ends the report: the live line is completed with a newline.
func (p *progress) done() {
	if p == nil {
		return
	}
	if p.mode == ProgressLive && (p.drawn || p.n > 0) {
		if !p.drawn || p.shown != p.n {
			p.draw(time.Now()) // the line on screen is not the last one yet; a finished one is drawn once (issue 26)
		}
		fmt.Fprintln(p.out)
	}
}

// HumanBytes is a size for people: 5.6 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
