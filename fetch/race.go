package fetch

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// racer runs goes at the mirrors (one goroutine per go) under the racing
// and hedging rules of the package comment. The rules are a pure function,
// decide (decide.go), of a snapshot of the race; race is the thin loop
// that takes the snapshot, does what decide says and sleeps until the
// next event or the time decide names.
//
// What a go does at its mirror is the mirror's source (runMirror: an AppHub
// index, the tarball or tree layout, file://, or a registry): the racer
// knows nothing of it but what the go's meter reports — a request waiting
// for headers, bytes arriving (any body: index, listing, checksum,
// manifest, tag list, blob, bundle), the claim of the download and its
// size. So every byte read from a mirror is judged by the same rules.
type racer struct {
	s       *session
	parent  context.Context // the caller's: cancelled means interrupted, not failed
	ms      []*mirror
	results chan goResult
	nudge   chan struct{} // a go claimed, or started or stopped waiting for headers

	running []*run // in start order; main loop only

	// goFn is what a go does at its mirror (the session's runMirror);
	// spawn runs it on a new goroutine. Tests replace them.
	goFn  func(ctx context.Context, m *mirror, g *run) (*Artifact, *fetchError)
	spawn func(func())

	mu      sync.Mutex // guards claimer, hedger and every run's meter
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

	meter // guarded by r.mu
}

// meter is what the racer knows of a go's progress.
type meter struct {
	started      time.Time // when the go started
	waits        int       // requests waiting for headers
	waitingSince time.Time // when waits went from 0 to 1
	lastProgress time.Time // the go's start, the last headers or the last body bytes, of any request
	bytes        int64     // body bytes of every request so far

	dlStart time.Time // when the go claimed the download
	dlBytes int64     // bytes received since then
	dlTotal int64     // expected size (Content-Length or the index's size), -1 unknown
	dlDone  time.Time // when dlBytes reached dlTotal (checksums may follow)
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

// got counts n body bytes that arrived from g's mirror (any request).
func (g *run) got(n int) {
	if g == nil || n <= 0 {
		return
	}
	g.r.mu.Lock()
	g.bytes += int64(n)
	g.lastProgress = time.Now()
	if !g.dlStart.IsZero() {
		g.dlBytes += int64(n)
		if g.dlTotal > 0 && g.dlBytes >= g.dlTotal && g.dlDone.IsZero() {
			g.dlDone = g.lastProgress
		}
	}
	g.r.mu.Unlock()
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
	now := time.Now()
	if on {
		if g.waits == 0 {
			g.waitingSince = now
		}
		g.waits++
	} else if g.waits > 0 {
		g.waits--
		g.lastProgress = now // an answer (or a failure) came
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
	now := time.Now()
	g := &run{r: r, m: m, cancel: cancel, meter: meter{started: now, lastProgress: now, dlTotal: -1}}
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

// view takes the snapshot decide judges.
func (r *racer) view(now time.Time, startNow bool) view {
	v := view{now: now, startNow: startNow, pending: r.pending(), raceDelay: r.s.raceDelay, grace: r.s.hedgeGrace}
	if m := r.next(now); m != nil {
		v.next = m.name
	}
	if m := nextDue(r.ms); m != nil {
		v.due = m.notBefore
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.running {
		v.gos = append(v.gos, goView{mirror: g.m.name, claimer: g == r.claimer, hedger: g == r.hedger, preempted: g.preempted, meter: g.meter})
	}
	return v
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

// race is the loop: take a snapshot, do what decide says, and sleep until
// a go reports (a result, a claim, a wait for headers) or the time decide
// names.
func (r *racer) race(ctx context.Context) (*Artifact, error) {
	defer r.stopAll()
	timer := time.NewTimer(idleWake)
	defer timer.Stop()
	startNow := true
	for ctx.Err() == nil {
		now := time.Now()
		act := decide(r.view(now, startNow))
		startNow = false
		switch act.verb {
		case doGiveUp:
			return nil, r.fail(ctx)
		case doPreempt:
			r.preempt()
			continue
		case doStart:
			m := r.next(now)
			if act.why != "" {
				r.s.log.Info().Str("slow", r.running[len(r.running)-1].m.name).Str("mirror", m.name).Str("why", act.why).
					Msg("no answer yet; starting the next mirror as well")
			}
			r.start(ctx, m, false)
			continue
		case doHedge:
			m := r.next(now)
			r.s.log.Warn().Str("slow", r.claimed().m.name).Str("mirror", m.name).Str("why", act.why).
				Msg("the download is too slow; starting the next mirror as well (the first to finish wins)")
			r.start(ctx, m, true)
			continue
		}
		timer.Reset(act.wake)
		select {
		case <-ctx.Done():
		case <-r.nudge:
		case <-timer.C:
		case res := <-r.results:
			if art, done := r.settleResult(ctx, res); done {
				timer.Stop()
				return art, nil
			} else if res.err != nil && res.err.kind == kLocal {
				timer.Stop()
				return nil, res.err.asLocal(r.s)
			}
			startNow = true
		}
		timer.Stop()
	}
	return nil, r.fail(ctx)
}

// preempt cancels every go but the claimer and the hedger.
func (r *racer) preempt() {
	claimer, hedger := r.claimed(), r.loser(r.claimed())
	for _, g := range r.running {
		if g != claimer && g != hedger && !g.preempted {
			g.preempted = true
			g.cancel()
			r.s.log.Debug().Str("mirror", g.m.name).Str("winner", claimer.m.name).Msg("another mirror answered first; cancelling this one")
		}
	}
}

// settleResult takes a go's result: its artifact wins (done), or its
// failure is recorded against its mirror. A preempted go's mirror may start
// again.
func (r *racer) settleResult(ctx context.Context, res goResult) (*Artifact, bool) {
	g := res.run
	loser := r.loser(g)
	r.remove(g)
	if res.art != nil {
		res.art.Mirror = g.m.name
		g.m.state = stateDone
		if loser != nil {
			r.s.log.Info().Str("mirror", g.m.name).Str("cancelled", loser.m.name).Msg("downloaded first; cancelling the slower download")
		}
		return res.art, true
	}
	if res.err.kind == kLocal {
		return nil, false
	}
	if (g.preempted || res.err.kind == kPreempted) && ctx.Err() == nil {
		g.m.state = statePending
		return nil, false
	}
	r.s.settle(ctx, g.m, res.err, r.pending() || len(r.running) > 0)
	return nil, false
}

// fail is the run's error once no go can serve the bundle.
func (r *racer) fail(ctx context.Context) error {
	if r.parent.Err() != nil {
		// Interrupted (SIGINT/SIGTERM cancel the caller's context): not a
		// failure of any mirror, so no class of its own; the context's
		// error is wrapped for the caller to recognise.
		return fmt.Errorf("download of SLURM client %s for %s interrupted: %w", r.s.version, r.s.arch, context.Cause(r.parent))
	}
	return r.s.finalError(ctx, r.ms, r.claimed())
}
