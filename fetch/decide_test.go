package fetch

import (
	"strings"
	"testing"
	"time"
)

// The racing and hedging rules, decision by decision, without a clock.
func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const s = time.Second
	// fresh: a go started at t0 that has brought nothing since.
	fresh := meter{started: t0, lastProgress: t0, dlTotal: -1}
	// fetching: a go that keeps bringing bytes, last at now-50ms.
	fetching := func(now time.Duration, bytes int64) meter {
		return meter{started: t0, lastProgress: at(now - 50*time.Millisecond), bytes: bytes, dlTotal: -1}
	}
	// dl: a claimer whose download started at t0, total bytes of size so
	// far, the last at now-50ms.
	dl := func(now time.Duration, got, size int64) meter {
		return meter{started: t0, lastProgress: at(now - 50*time.Millisecond), dlStart: t0, dlBytes: got, dlTotal: size}
	}
	waiting := func(m meter, since time.Duration) meter {
		m.waits, m.waitingSince, m.lastProgress = 1, at(since), at(since)
		return m
	}
	claim := func(m meter) goView { return goView{mirror: "a", claimer: true, meter: m} }
	racing := func(name string, m meter) goView { return goView{mirror: name, meter: m} }
	hedge := func(m meter) goView { return goView{mirror: "b", hedger: true, meter: m} }

	cases := []struct {
		name    string
		now     time.Duration
		gos     []goView
		next    string
		due     time.Duration // 0: no retry waits
		pending bool
		start   bool
		want    verb
		why     string        // a substring of the reason
		wake    time.Duration // doWait: the wake, if not 0
	}{
		{name: "first mirror starts at once", next: "a", pending: true, start: true, want: doStart},
		{name: "nothing left", want: doGiveUp},
		{name: "a failure starts the next at once", now: 10 * time.Millisecond, gos: []goView{racing("a", fresh)}, next: "b", pending: true, start: true, want: doStart},
		{name: "a waiting go under RaceDelay waits", now: 100 * time.Millisecond, gos: []goView{racing("a", waiting(fresh, 0))}, next: "b", pending: true, want: doWait, wake: 200 * time.Millisecond},
		{name: "no headers within RaceDelay races the next", now: 300 * time.Millisecond, gos: []goView{racing("a", waiting(fresh, 0))}, next: "b", pending: true, want: doStart, why: "no answer for 300ms"},
		{name: "headers then silence races the next", now: 400 * time.Millisecond, gos: []goView{racing("a", meter{started: t0, lastProgress: at(50 * time.Millisecond), dlTotal: -1})}, next: "b", pending: true, want: doStart, why: "no bytes for 350ms"},
		{name: "discovery that trickles races the next after the grace", now: 2 * s, gos: []goView{racing("a", fetching(2*s, 9000))}, next: "b", pending: true, want: doStart, why: "no bundle after 2s"},
		{name: "discovery on course waits", now: time.Second, gos: []goView{racing("a", fetching(time.Second, 9000))}, next: "b", pending: true, want: doWait, wake: 250 * time.Millisecond},
		{name: "only the newest go is raced", now: 5 * s, gos: []goView{racing("a", fresh), racing("b", meter{started: at(5 * s), lastProgress: at(5 * s)})}, next: "c", pending: true, want: doWait},
		{name: "nothing to start: wait for the retry", now: time.Second, gos: []goView{racing("a", waiting(fresh, 0))}, due: 3 * s, pending: true, want: doWait, wake: 2 * s},
		{name: "a claim cancels the racing gos", now: time.Second, gos: []goView{claim(dl(time.Second, 10, 100)), racing("b", fresh)}, pending: true, want: doPreempt},
		{name: "preempted gos are awaited, not cancelled again", now: time.Second, gos: []goView{claim(dl(time.Second, 10, 100)), {mirror: "b", preempted: true, meter: fresh}}, next: "b", want: doWait},
		{name: "a claimer inside the grace is not judged", now: 1900 * time.Millisecond, gos: []goView{claim(dl(1900*time.Millisecond, 10, 1<<20))}, next: "b", pending: true, want: doWait, wake: hedgeEvery},
		{name: "a slow claimer is hedged", now: 2 * s, gos: []goView{claim(dl(2*s, 10<<10, 1<<20))}, next: "b", pending: true, want: doHedge, why: "to go"},
		{name: "a claimer on course is spared", now: 2 * s, gos: []goView{claim(dl(2*s, 600<<10, 1<<20))}, next: "b", pending: true, want: doWait},
		{name: "a claimer near the end is spared", now: 2 * s, gos: []goView{claim(dl(2*s, 700, 1000))}, next: "b", pending: true, want: doWait},
		{name: "size unknown and slow is hedged", now: 2 * s, gos: []goView{claim(dl(2*s, 10<<10, -1))}, next: "b", pending: true, want: doHedge, why: "size unknown"},
		{name: "a silent claimer is hedged", now: 3 * s, gos: []goView{claim(meter{started: t0, lastProgress: at(time.Second), dlStart: t0, dlBytes: 100, dlTotal: 100})}, next: "b", pending: true, want: doHedge, why: "no bytes for 2s"},
		{name: "all bytes in and a checksum on its way: spared", now: 3 * s, gos: []goView{claim(dl(3*s, 100, 100))}, next: "b", pending: true, want: doWait},
		{name: "all bytes in and the checksum trickles past the grace", now: 5 * s, gos: []goView{claim(meter{started: t0, lastProgress: at(5*s - 50*time.Millisecond), dlStart: t0, dlBytes: 100, dlTotal: 100, dlDone: at(time.Second)})}, next: "b", pending: true, want: doHedge, why: "its checksum has not"},
		{name: "a checksum as slow as its bundle is spared", now: 5 * s, gos: []goView{claim(meter{started: t0, lastProgress: at(5*s - 50*time.Millisecond), dlStart: t0, dlBytes: 100, dlTotal: 100, dlDone: at(3 * s)})}, next: "b", pending: true, want: doWait},
		{name: "at most one hedge at a time", now: 10 * s, gos: []goView{claim(dl(10*s, 10, 1<<20)), hedge(fresh)}, next: "c", pending: true, want: doWait, wake: idleWake},
		{name: "no mirror to hedge with", now: 10 * s, gos: []goView{claim(dl(10*s, 10, 1<<20))}, want: doWait, wake: idleWake},
		{name: "a hedge waits for a retry to fall due", now: 10 * s, gos: []goView{claim(dl(10*s, 10, 1<<20))}, pending: true, due: 11 * s, want: doWait, wake: hedgeEvery},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := view{now: at(c.now), gos: c.gos, startNow: c.start, next: c.next, pending: c.pending || c.next != "",
				raceDelay: DefaultRaceDelay, grace: hedgeGrace}
			if c.due > 0 {
				v.due = at(c.due)
			}
			got := decide(v)
			if got.verb != c.want {
				t.Fatalf("decide = %s (%q), want %s", got.verb, got.why, c.want)
			}
			if !strings.Contains(got.why, c.why) {
				t.Errorf("why = %q, want it to say %q", got.why, c.why)
			}
			if c.wake != 0 && got.wake != c.wake {
				t.Errorf("wake = %s, want %s", got.wake, c.wake)
			}
			if got.wake < 0 {
				t.Errorf("negative wake %s", got.wake)
			}
		})
	}
}
