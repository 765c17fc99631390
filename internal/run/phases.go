package run

import (
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
)

// phaseNames are the phases of a healthy install, in order, as the
// closing debug line names them (docs/BENCHMARKS.md quotes it).
var phaseNames = []string{"setup", "resolve", "download", "verify", "extract", "preflight", "commit", "ldconfig", "sandbox_run", "receipt"}

// phases times one install run: where its wall time went. Marks are
// taken on the one goroutine that runs the install; a nil *phases ignores
// them (repair, probes).
type phases struct {
	start, last time.Time
	ms          map[string]float64
}

func newPhases(start time.Time) *phases {
	return &phases{start: start, last: start, ms: map[string]float64{}}
}

// mark adds the time since the last mark to name.
func (p *phases) mark(name string) {
	if p == nil {
		return
	}
	now := time.Now()
	p.add(name, now.Sub(p.last))
	p.last = now
}

func (p *phases) add(name string, d time.Duration) {
	p.ms[name] += float64(d.Microseconds()) / 1000
}

// fetched splits the time since the last mark (fetch.Fetch) into resolve,
// download (hashed as it streams) and verify by the artifact's download
// bounds; without them (a tree, a registry, --from) it is all download.
func (p *phases) fetched(art *fetch.Artifact) {
	if p == nil {
		return
	}
	now := time.Now()
	if art == nil || art.DownloadStarted.IsZero() || art.DownloadStarted.Before(p.last) || art.DownloadDone.After(now) {
		p.mark("download")
		return
	}
	p.add("resolve", art.DownloadStarted.Sub(p.last))
	p.add("download", art.DownloadDone.Sub(art.DownloadStarted))
	p.add("verify", now.Sub(art.DownloadDone))
	p.last = now
}

// moveTo moves d of from's time to to (ldconfig runs inside the commit).
func (p *phases) moveTo(from, to string, d time.Duration) {
	if p == nil || d <= 0 {
		return
	}
	p.add(from, -d)
	p.add(to, d)
}

// log writes the one closing debug line: each phase's milliseconds and
// the total.
func (p *phases) log(log zerolog.Logger) {
	if p == nil || log.GetLevel() > zerolog.DebugLevel {
		return
	}
	ev := log.Debug()
	for _, n := range phaseNames {
		ev = ev.Float64(n+"_ms", round1(p.ms[n]))
	}
	ev.Float64("total_ms", round1(float64(time.Since(p.start).Microseconds())/1000)).Msg("install phases")
}

func round1(ms float64) float64 { return float64(int64(ms*10+0.5)) / 10 }
