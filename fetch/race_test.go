package fetch

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// fakeGo is what one go does at a fake mirror inside a synctest bubble.
type fakeGo func(ctx context.Context, g *run) (*Artifact, *fetchError)

// fakeRace is a racer over named fake mirrors, with no sockets: each
// mirror's go is a function of (ctx, run). spawned counts the gos started
// per mirror; first, when set, makes start wait until the new go has done
// its first step (signalled on the channel), as a scheduler may let it.
type fakeRace struct {
	r       *racer
	log     *syncBuf
	mu      sync.Mutex
	spawned map[string]int
}

func newFakeRace(t *testing.T, o Options, gos map[string]fakeGo, first chan struct{}) *fakeRace {
	t.Helper()
	lb := &syncBuf{}
	o.Log = zerolog.New(io.MultiWriter(lb, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	if o.Version == "" {
		o.Version = "22.05.8"
	}
	o.Arch, o.TempDir = "x86_64", t.TempDir()
	s, ms, err := newSession(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	fr := &fakeRace{log: lb, spawned: map[string]int{}}
	fr.r = &racer{s: s, parent: context.Background(), ms: ms, results: make(chan goResult), nudge: make(chan struct{}, 1)}
	fr.r.goFn = func(ctx context.Context, m *mirror, g *run) (*Artifact, *fetchError) {
		fr.mu.Lock()
		fr.spawned[m.name]++
		fr.mu.Unlock()
		return gos[m.name](ctx, g)
	}
	if first != nil {
		fr.r.spawn = func(f func()) {
			go f()
			<-first
		}
	}
	return fr
}

func (fr *fakeRace) count(name string) int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.spawned[name]
}

// trickleGo claims and then brings bps bytes a second of size, until done
// or cancelled.
func trickleGo(size, bps int64, first chan struct{}) fakeGo {
	return func(ctx context.Context, g *run) (*Artifact, *fetchError) {
		won := g.claim()
		if first != nil {
			first <- struct{}{}
		}
		if !won {
			return nil, &fetchError{kind: kPreempted, url: "slow", cause: "another mirror answered first"}
		}
		g.downloading(size)
		for got := int64(0); got < size; got += bps / 10 {
			select {
			case <-ctx.Done():
				return nil, &fetchError{kind: kRetry, url: "slow", cause: ctxCause(ctx.Err()), err: ctx.Err()}
			case <-time.After(100 * time.Millisecond):
			}
			g.got(int(bps / 10))
		}
		return &Artifact{Path: "slow", Cleanup: func() {}}, nil
	}
}

// Issue 22, defect 3: a hedge that answers before the racer's loop has
// marked it the hedger used to be refused as a loser; the slot was freed,
// "too slow; starting the next mirror" was logged again and the good
// mirror served the bundle twice. The spawn hook lets each new go take its
// first step (claiming) before start returns, which a loaded machine may
// do on its own.
func TestHedgeStartsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first := make(chan struct{})
		var fr *fakeRace
		gos := map[string]fakeGo{
			"http://slow.test": trickleGo(1<<20, 5000, first),
			"http://good.test": func(ctx context.Context, g *run) (*Artifact, *fetchError) {
				won := g.claim()
				first <- struct{}{}
				if !won {
					if fr.count("http://good.test") > 3 {
						return nil, &fetchError{kind: kFatal, url: "good", cause: "hedged again and again"}
					}
					return nil, &fetchError{kind: kPreempted, url: "good", cause: "another mirror answered first"}
				}
				g.downloading(1000)
				g.got(1000)
				return &Artifact{Path: "good", Cleanup: func() {}}, nil
			},
		}
		fr = newFakeRace(t, Options{Mirrors: []string{"http://slow.test", "http://good.test"}}, gos, first)
		a, err := fr.r.race(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if a.Mirror != "http://good.test" {
			t.Errorf("won by %s", a.Mirror)
		}
		if n := strings.Count(fr.log.String(), "starting the next mirror as well (the first"); n != 1 {
			t.Errorf("hedged %d times, want 1", n)
		}
		if n := fr.count("http://good.test"); n != 1 {
			t.Errorf("the good mirror was started %d times, want 1 (one extra download at most)", n)
		}
		if fr.r.hedges != 1 {
			t.Errorf("hedges = %d", fr.r.hedges)
		}
	})
}

// goodGo claims at once and brings size bytes.
func goodGo(size int64) fakeGo {
	return func(ctx context.Context, g *run) (*Artifact, *fetchError) {
		if !g.claim() {
			return nil, &fetchError{kind: kPreempted, url: "good", cause: "another mirror answered first"}
		}
		g.downloading(size)
		g.got(int(size))
		return &Artifact{Path: "good", Cleanup: func() {}}, nil
	}
}

// Issue 22, defect 2, in the loop: a first mirror whose discovery (index,
// listings, checksums, manifests) brings bytes but never the bundle is
// raced by the next mirror after the grace; one that claims, brings the
// bundle and then keeps the go waiting (a checksum that never comes) is
// hedged after the grace, not after the stall timeout or the deadline.
func TestRaceJudgesEveryByte(t *testing.T) {
	cases := map[string]fakeGo{
		"discovery trickles": func(ctx context.Context, g *run) (*Artifact, *fetchError) {
			for {
				select {
				case <-ctx.Done():
					return nil, &fetchError{kind: kRetry, url: "slow", cause: ctxCause(ctx.Err()), err: ctx.Err()}
				case <-time.After(100 * time.Millisecond):
					g.got(100)
				}
			}
		},
		"headers then silence": func(ctx context.Context, g *run) (*Artifact, *fetchError) {
			g.waiting(true)
			g.waiting(false)
			<-ctx.Done()
			return nil, &fetchError{kind: kRetry, url: "slow", cause: ctxCause(ctx.Err()), err: ctx.Err()}
		},
		"checksum never comes": func(ctx context.Context, g *run) (*Artifact, *fetchError) {
			if !g.claim() {
				return nil, &fetchError{kind: kPreempted, url: "slow", cause: "another mirror answered first"}
			}
			g.downloading(1000)
			g.got(1000)
			g.waiting(true)
			<-ctx.Done()
			g.waiting(false)
			return nil, &fetchError{kind: kRetry, url: "slow", cause: ctxCause(ctx.Err()), err: ctx.Err()}
		},
	}
	for name, slow := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gos := map[string]fakeGo{"http://slow.test": slow, "http://good.test": goodGo(1000)}
				fr := newFakeRace(t, Options{Mirrors: []string{"http://slow.test", "http://good.test"}, Timeout: time.Minute, Stall: time.Minute}, gos, nil)
				start := time.Now()
				a, err := fr.r.race(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if took := time.Since(start); a.Mirror != "http://good.test" || took > hedgeGrace+hedgeEvery {
					t.Errorf("won by %s after %s (fake time), want the good mirror within the grace", a.Mirror, took)
				}
				if n := fr.count("http://good.test"); n != 1 {
					t.Errorf("good mirror started %d times", n)
				}
			})
		})
	}
}

// At most one extra go at a time: a hedge that is slow as well is not
// hedged in turn; the first of the two to finish wins.
func TestHedgeAtMostOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gos := map[string]fakeGo{
			"http://a.test": trickleGo(200<<10, 5000, nil),
			"http://b.test": trickleGo(50<<10, 5000, nil),
			"http://c.test": goodGo(1000),
		}
		fr := newFakeRace(t, Options{Mirrors: []string{"http://a.test", "http://b.test", "http://c.test"}}, gos, nil)
		a, err := fr.r.race(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if a.Mirror != "http://b.test" || fr.r.hedges != 1 || fr.count("http://c.test") != 0 {
			t.Errorf("won by %s after %d hedges, the third mirror started %d times; want b, 1, 0", a.Mirror, fr.r.hedges, fr.count("http://c.test"))
		}
	})
}
