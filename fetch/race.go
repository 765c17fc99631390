package fetch

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// racer runs goes at the mirrors (one goroutine per go) under the racing
// rules of the package comment: mirrors start in order of preference; the
// next one starts at once when a go fails, and also when the newest go has
// waited RaceDelay for response headers; the first go that gets a 200 for
// the bundle bytes claims the download and every other go is cancelled
// (and may start again if the claimer fails).
type racer struct {
	s       *session
	parent  context.Context // the caller's: cancelled means interrupted, not failed
	ms      []*mirror
	results chan goResult
	nudge   chan struct{} // a go started or stopped waiting for headers, or claimed

	running []*run // in start order; main loop only

	// goFn is what a go does at its mirror (the session's runMirror);
	// spawn runs it on a new goroutine. Tests replace them.
	goFn  func(ctx context.Context, m *mirror, g *run) (*Artifact, *fetchError)
	spawn func(func())

	mu      sync.Mutex // guards claimer, hedger and every run's waiting and download fields
	claimer *run
	hedger  *run // the one extra go started because the claimer is slow (hedging); it may download too
	hedges  int  // hedges started
}

// run is one go at one mirror.
type run struct {
	r         *racer
	m         *mirror
	cancel    context.CancelFunc
	preempted bool // cancelled because another go claimed; main loop only

	waits        int       // requests waiting for headers; guarded by r.mu
	waitingSince time.Time // when waits went from 0 to 1; guarded by r.mu

	dlStart time.Time // when the go claimed its download; guarded by r.mu
	dlBytes int64     // bytes of the bundle received so far; guarded by r.mu
	dlTotal int64     // expected size (Content-Length or the index's size), -1 unknown; guarded by r.mu
}

// downloading records that g's bundle download started (or resumed) and
// how big it is expected to be.
func (g *run) downloading(total int64) {
	if g == nil {
		return
	}
	g.r.mu.Lock()
	if g.dlStart.IsZero() {
		g.dlStart = time.Now()
	}
	if total > 0 {
		g.dlTotal = total
	}
	g.r.mu.Unlock()
}

// Write counts bundle bytes as they arrive (for the hedging estimate).
func (g *run) Write(p []byte) (int, error) {
	if g != nil {
		g.r.mu.Lock()
		g.dlBytes += int64(len(p))
		g.r.mu.Unlock()
	}
	return len(p), nil
}

type goResult struct {
	run *run
	art *Artifact
	err *fetchError
}

func (g *run) poke() {
	select {
	case g.r.nudge <- struct{}{}:
	default:
	}
}

// waiting marks the start (true) or end (false) of a wait for headers.
func (g *run) waiting(on bool) {
	if g == nil {
		return
	}
	g.r.mu.Lock()
	if on {
		if g.waits == 0 {
			g.waitingSince = time.Now()
		}
		g.waits++
	} else if g.waits > 0 {
		g.waits--
	}
	g.r.mu.Unlock()
	g.poke()
}

// claim makes g the go whose response won; false if another go won first.
func (g *run) claim() bool {
	if g == nil {
		return true
	}
	g.r.mu.Lock()
	won := g.r.claimer == nil || g.r.claimer == g || g.r.hedger == g
	if won && g.r.claimer == nil {
		g.r.claimer = g
		defer g.poke()
	}
	g.r.mu.Unlock()
	return won
}

// start starts a go at m; hedge makes it the hedge against the claimer.
// The role is set before the go runs: a hedge that answers at once must
// find itself the hedger when it claims, or it is refused as a loser, the
// slot is freed and a second hedge starts (issue 22, defect 3).
func (r *racer) start(ctx context.Context, m *mirror, hedge bool) *run {
	gctx, cancel := context.WithCancel(ctx)
	g := &run{r: r, m: m, cancel: cancel, dlTotal: -1}
	m.state = stateRunning
	r.running = append(r.running, g)
	if hedge {
		r.mu.Lock()
		r.hedger = g
		r.hedges++
		r.mu.Unlock()
	}
	if m.attempts > 0 || m.started {
		r.s.log.Debug().Str("mirror", m.name).Int("attempt", m.attempts+1).Msg("trying mirror again")
	} else {
		r.s.log.Debug().Str("mirror", m.name).Msg("trying mirror")
	}
	m.started = true
	goFn, spawn := r.goFn, r.spawn
	if goFn == nil {
		goFn = r.s.runMirror
	}
	if spawn == nil {
		spawn = func(f func()) { go f() }
	}
	spawn(func() {
		art, err := goFn(gctx, m, g)
		r.results <- goResult{run: g, art: art, err: err}
	})
	return g
}

func (r *racer) remove(g *run) {
	for i, x := range r.running {
		if x == g {
			r.running = append(r.running[:i], r.running[i+1:]...)
			break
		}
	}
	g.cancel()
	r.mu.Lock()
	switch g {
	case r.claimer:
		// A hedge still downloading takes over the download.
		r.claimer, r.hedger = r.hedger, nil
	case r.hedger:
		r.hedger = nil
	}
	r.mu.Unlock()
}

// stopAll cancels every go and waits for each to return, so no goroutine
// and no connection outlives Fetch; artifacts of losers are removed.
func (r *racer) stopAll() {
	for _, g := range r.running {
		g.cancel()
	}
	for len(r.running) > 0 {
		res := <-r.results
		if res.art != nil && res.art.Cleanup != nil {
			res.art.Cleanup()
		}
		r.remove(res.run)
	}
}

// next returns the mirror to start now: the first never-tried (or
// preempted) one in order of preference, else the retry that is due first.
func (r *racer) next(now time.Time) *mirror {
	for _, m := range r.ms {
		if m.state == statePending {
			return m
		}
	}
	if m := nextDue(r.ms); m != nil && !m.notBefore.After(now) {
		return m
	}
	return nil
}

func (r *racer) pending() bool {
	for _, m := range r.ms {
		if m.state == statePending || m.state == stateRetry {
			return true
		}
	}
	return false
}

// frontWait says how long the newest go has waited for headers (0 if it
// is not waiting).
func (r *racer) frontWait(now time.Time) (time.Duration, bool) {
	if len(r.running) == 0 {
		return 0, false
	}
	g := r.running[len(r.running)-1]
	r.mu.Lock()
	defer r.mu.Unlock()
	if g.waits == 0 {
		return 0, false
	}
	return now.Sub(g.waitingSince), true
}

// The hedging rule (see the package comment): once the claimer has
// downloaded for hedgeGrace, and another mirror can be started, the next
// mirror starts as well when the claimer's estimated time to finish is
// more than hedgeFactor times what it took so far (and over hedgeMinETA), or, with no size
// known, when it brings less than hedgeMinRate.
const (
	hedgeGrace   = 2 * time.Second
	hedgeFactor  = 2
	hedgeMinRate = 64 << 10        // bytes per second
	hedgeMinETA  = 3 * time.Second // never hedge what will be done sooner
	hedgeEvery   = 250 * time.Millisecond
)

// slow says why the claimer's download should be hedged, or "".
func (r *racer) slow(g *run, now time.Time) string {
	if !r.pending() {
		return ""
	}
	r.mu.Lock()
	start, got, total := g.dlStart, g.dlBytes, g.dlTotal
	r.mu.Unlock()
	if start.IsZero() {
		return ""
	}
	el := now.Sub(start)
	if el < r.s.hedgeGrace {
		return ""
	}
	rate := float64(got) / el.Seconds()
	if total > 0 {
		if got >= total {
			return ""
		}
		if rate <= 0 {
			return fmt.Sprintf("no bytes in %s", el.Round(time.Millisecond))
		}
		eta := time.Duration(float64(total-got) / rate * float64(time.Second))
		if eta > hedgeFactor*el && eta > hedgeMinETA {
			return fmt.Sprintf("%s/s: %s of %s after %s, about %s to go",
				humanBytes(int64(rate)), humanBytes(got), humanBytes(total), el.Round(time.Millisecond), eta.Round(time.Second))
		}
		return ""
	}
	if rate < hedgeMinRate {
		return fmt.Sprintf("%s/s after %s (size unknown)", humanBytes(int64(rate)), el.Round(time.Millisecond))
	}
	return ""
}

func (r *racer) hedging() *run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hedger
}

// loser is the other of claimer and hedger when g is one of them.
func (r *racer) loser(g *run) *run {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch g {
	case r.claimer:
		return r.hedger
	case r.hedger:
		return r.claimer
	}
	return nil
}

func (r *racer) claimed() *run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.claimer
}

func (r *racer) race(ctx context.Context) (*Artifact, error) {
	defer r.stopAll()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	startNow := true
	for ctx.Err() == nil {
		now := time.Now()
		claimer := r.claimed()
		hedger := r.hedging()
		if claimer != nil {
			// The winner has the download: the others make way (but a
			// hedge against a slow winner downloads as well).
			for _, g := range r.running {
				if g != claimer && g != hedger && !g.preempted {
					g.preempted = true
					g.cancel()
					r.s.log.Debug().Str("mirror", g.m.name).Str("winner", claimer.m.name).Msg("another mirror answered first; cancelling this one")
				}
			}
			if hedger == nil {
				if why := r.slow(claimer, now); why != "" {
					if m := r.next(now); m != nil {
						r.s.log.Warn().Str("slow", claimer.m.name).Str("mirror", m.name).Str("why", why).
							Msg("the download is too slow; starting the next mirror as well (the first to finish wins)")
						r.start(ctx, m, true)
						continue
					}
				}
			}
		} else {
			waited, waiting := r.frontWait(now)
			if startNow || len(r.running) == 0 || (waiting && waited >= r.s.raceDelay) {
				if m := r.next(now); m != nil {
					if waiting && waited >= r.s.raceDelay && !startNow && len(r.running) > 0 {
						r.s.log.Info().Str("slow", r.running[len(r.running)-1].m.name).Str("mirror", m.name).
							Dur("waited", waited.Round(time.Millisecond)).Msg("no answer yet; starting the next mirror as well")
					}
					r.start(ctx, m, false)
					startNow = false
					continue
				}
			}
		}
		startNow = false
		if len(r.running) == 0 && !r.pending() {
			break
		}
		// Sleep until something can change: a result, a nudge, the race
		// delay of the newest go, or the next retry falling due.
		var wake time.Duration = time.Hour
		if claimer != nil && hedger == nil && r.pending() {
			wake = hedgeEvery // look at the download's rate again soon
		}
		if claimer == nil {
			if waited, waiting := r.frontWait(now); waiting {
				wake = min(wake, r.s.raceDelay-waited)
			}
			if m := nextDue(r.ms); m != nil {
				wake = min(wake, time.Until(m.notBefore))
			}
		}
		timer.Reset(max(wake, 0))
		select {
		case <-ctx.Done():
		case <-r.nudge:
		case <-timer.C:
		case res := <-r.results:
			g := res.run
			r.remove(g)
			if res.art != nil {
				res.art.Mirror = g.m.name
				g.m.state = stateDone
				if l := r.loser(g); l != nil {
					r.s.log.Info().Str("mirror", g.m.name).Str("cancelled", l.m.name).Msg("downloaded first; cancelling the slower download")
				}
				return res.art, nil
			}
			if res.err.kind == kLocal {
				return nil, res.err.asLocal(r.s)
			}
			if (g.preempted || res.err.kind == kPreempted) && ctx.Err() == nil {
				g.m.state = statePending
				continue
			}
			r.s.settle(ctx, g.m, res.err, r.pending() || len(r.running) > 0)
			startNow = true
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
	if r.parent.Err() != nil {
		// Interrupted (SIGINT/SIGTERM cancel the caller's context): not a
		// failure of any mirror, so no class of its own; the context's
		// error is wrapped for the caller to recognise.
		return nil, fmt.Errorf("download of SLURM client %s for %s interrupted: %w", r.s.version, r.s.arch, context.Cause(r.parent))
	}
	return nil, r.s.finalError(ctx, r.ms, r.claimed())
}
