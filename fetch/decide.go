package fetch

import (
	"fmt"
	"time"
)

// The racing and hedging rules (the package comment) as a pure function of
// a snapshot of the race: decide(view) says what the racer's loop does
// next. It reads no clock and touches no go, so the rules are table-tested
// (decide_test.go) and the loop is tested in a synctest bubble.

// The hedging rule (see the package comment): once the claimer has
// downloaded for hedgeGrace, and another mirror can be started, the next
// mirror starts as well when the claimer's estimated time to finish is
// more than hedgeFactor times what it took so far (and over hedgeMinETA),
// or, with no size known, when it brings less than hedgeMinRate; and when
// it has brought nothing at all (no headers, no bytes, of any request) for
// hedgeGrace, or still has not finished hedgeGrace, and twice what the
// bundle took, after the bundle's last byte (its checksum trickles). Before any go claims, the newest go is raced by the next
// mirror when it has brought nothing for RaceDelay, or has not claimed
// within hedgeGrace (its discovery — index, listings, checksums, manifests
// — is outstanding longer than a healthy mirror takes).
const (
	hedgeGrace   = 2 * time.Second
	hedgeFactor  = 2
	hedgeMinRate = 64 << 10        // bytes per second
	hedgeMinETA  = 3 * time.Second // never hedge what will be done sooner
	hedgeEvery   = 250 * time.Millisecond
	idleWake     = time.Hour // nothing to wait for but a result or a nudge
)

// view is a snapshot of the race: everything decide needs.
type view struct {
	now       time.Time
	gos       []goView      // the running gos, in start order
	startNow  bool          // a go has just failed: the next mirror starts at once
	next      string        // the mirror that may start now ("" if none)
	due       time.Time     // when the earliest retry falls due (zero if none waits)
	pending   bool          // a mirror may still start, now or later
	raceDelay time.Duration // Options.RaceDelay
	grace     time.Duration // Options.HedgeGrace
}

// goView is one running go as decide sees it.
type goView struct {
	mirror    string
	claimer   bool // holds the download
	hedger    bool // the extra go against a slow claimer
	preempted bool // cancelled because another go claimed; its result is awaited
	meter
}

// verb is what the loop does next.
type verb int

const (
	doWait    verb = iota // sleep until a result, a nudge, or wake
	doStart               // start the next mirror (racing, before any claim)
	doHedge               // start the next mirror as the hedge against the claimer
	doPreempt             // cancel every go but the claimer and the hedger
	doGiveUp              // nothing runs and nothing may start: the run failed
)

func (v verb) String() string {
	return [...]string{"wait", "start", "hedge", "preempt", "give up"}[v]
}

// action is decide's answer.
type action struct {
	verb verb
	why  string        // doStart after a wait, doHedge: the reason, for the log
	wake time.Duration // doWait: the longest sleep before deciding again
}

// decide applies the racing and hedging rules to v.
func decide(v view) action {
	if len(v.gos) == 0 && !v.pending {
		return action{verb: doGiveUp}
	}
	var claimer, hedger *goView
	for i := range v.gos {
		switch {
		case v.gos[i].claimer:
			claimer = &v.gos[i]
		case v.gos[i].hedger:
			hedger = &v.gos[i]
		}
	}
	wake := idleWake
	if !v.due.IsZero() && v.next == "" {
		wake = max(v.due.Sub(v.now), 0)
	}
	if claimer != nil {
		// The winner has the download: the others make way (but a hedge
		// against a slow winner downloads as well).
		for _, g := range v.gos {
			if !g.claimer && !g.hedger && !g.preempted {
				return action{verb: doPreempt}
			}
		}
		if hedger != nil || !v.pending {
			return action{verb: doWait, wake: idleWake} // at most one extra go at a time
		}
		if why := slowClaim(claimer.meter, v.now, v.grace); why != "" && v.next != "" {
			return action{verb: doHedge, why: why}
		}
		return action{verb: doWait, wake: min(wake, hedgeEvery)} // look at the download's rate again soon
	}
	if v.next != "" && (v.startNow || len(v.gos) == 0) {
		return action{verb: doStart}
	}
	if len(v.gos) == 0 {
		return action{verb: doWait, wake: wake}
	}
	front := v.gos[len(v.gos)-1].meter
	if v.next != "" {
		if why := slowFront(front, v.now, v.raceDelay, v.grace); why != "" {
			return action{verb: doStart, why: why}
		}
	}
	if v.next != "" {
		// Wake when the newest go's quiet reaches RaceDelay or its age
		// the grace (the next mirror may start then).
		wake = min(wake, max(v.raceDelay-v.now.Sub(front.lastProgress), 0), max(v.grace-v.now.Sub(front.started), 0))
	}
	return action{verb: doWait, wake: wake}
}

// slowFront says why the newest go, which has not claimed, should be raced
// by the next mirror, or "".
func slowFront(g meter, now time.Time, raceDelay, grace time.Duration) string {
	if q := now.Sub(g.lastProgress); q >= raceDelay {
		if g.waits > 0 {
			return fmt.Sprintf("no answer for %s", q.Round(time.Millisecond))
		}
		return fmt.Sprintf("no bytes for %s", q.Round(time.Millisecond))
	}
	if age := now.Sub(g.started); age >= grace {
		return fmt.Sprintf("no bundle after %s (%s read)", age.Round(time.Millisecond), HumanBytes(g.bytes))
	}
	return ""
}

// slowClaim says why the claimer's download should be hedged, or "".
func slowClaim(g meter, now time.Time, grace time.Duration) string {
	if g.dlStart.IsZero() {
		return ""
	}
	el := now.Sub(g.dlStart)
	if el < grace {
		return ""
	}
	if q := now.Sub(g.lastProgress); q >= grace {
		// Nothing at all: a resumed body, a checksum after the bundle
		// or a registry answer that keeps the go waiting.
		return fmt.Sprintf("no bytes for %s", q.Round(time.Millisecond))
	}
	got, total := g.dlBytes, g.dlTotal
	rate := float64(got) / el.Seconds()
	if total > 0 {
		if got >= total {
			// The bytes are in: what follows (a checksum) is small, and
			// judged against the bundle: over the grace and over twice
			// what the bundle took is slow.
			if d := g.dlDone; !d.IsZero() && now.Sub(d) >= grace && now.Sub(d) > hedgeFactor*d.Sub(g.dlStart) {
				return fmt.Sprintf("the bundle came in %s, but its checksum has not in %s", d.Sub(g.dlStart).Round(time.Millisecond), now.Sub(d).Round(time.Millisecond))
			}
			return ""
		}
		if rate <= 0 {
			return fmt.Sprintf("no bytes in %s", el.Round(time.Millisecond))
		}
		eta := time.Duration(float64(total-got) / rate * float64(time.Second))
		if eta > hedgeFactor*el && eta > hedgeMinETA {
			return fmt.Sprintf("%s/s: %s of %s after %s, about %s to go",
				HumanBytes(int64(rate)), HumanBytes(got), HumanBytes(total), el.Round(time.Millisecond), eta.Round(time.Second))
		}
		return ""
	}
	if rate < hedgeMinRate {
		return fmt.Sprintf("%s/s after %s (size unknown)", HumanBytes(int64(rate)), el.Round(time.Millisecond))
	}
	return ""
}
