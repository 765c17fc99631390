package failure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
)

// TestAdvice: the outermost error with advice wins; an outer wrap without
// advice shows the inner one's; Advise carries advice across errors.
func TestAdvice(t *testing.T) {
	inner := New(Integrity, "mismatch").WithHint("re-publish it").Suggest(PinDigest).Suggest(UsePackedPrefix, "/opt", "slurm")
	wrapped := fmt.Errorf("mirror a: %w", inner)
	if h, fix := Advice(wrapped); h != "re-publish it" || len(fix) != 2 || fix[1] != (Remedy{UsePackedPrefix, "/opt slurm"}) {
		t.Fatalf("Advice(wrapped) = %q, %v", h, fix)
	}
	outer := New(Download, "no mirror: %w", wrapped).Suggest(RaiseTimeouts)
	if got := Steps(outer); !slices.Equal(got, []Step{RaiseTimeouts}) {
		t.Fatalf("outer advice: %v, want only its own", got)
	}
	carried := New(Download, "all failed").Advise(Advice(wrapped))
	if !slices.Equal(Steps(carried), []Step{PinDigest, UsePackedPrefix}) || HintOf(carried) != "re-publish it" {
		t.Fatalf("Advise did not carry: %q %v", HintOf(carried), Steps(carried))
	}
	if h, fix := Advice(errors.New("plain")); h != "" || fix != nil {
		t.Fatalf("plain error: %q %v", h, fix)
	}
	if ClassOf(Wrap(Usage, outer)) != Download {
		t.Fatal("Wrap must keep the innermost class")
	}
}

// TestStopped: a run cancelled by a signal ends with the signal's class
// (130/143), whatever the symptom; a live context is not stopped.
func TestStopped(t *testing.T) {
	if Stopped(context.Background(), errors.New("x")) != nil {
		t.Fatal("a live context is not stopped")
	}
	for sig, want := range map[syscall.Signal]Class{syscall.SIGINT: Interrupted, syscall.SIGTERM: Terminated} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(&Signal{Sig: sig})
		err := Stopped(ctx, New(Download, "connection reset"))
		if ClassOf(err) != want || !errors.Is(err, context.Canceled) {
			t.Errorf("%v: class %v (%v), want %v and a cancellation", sig, ClassOf(err), err, want)
		}
	}
}

// TestHints: Hints is the one carrier of advice. An Error's promoted
// Hint/Fix are its Hints; Suggest chains on a Hints as on an Error;
// Advised says whether there is any; Carry hands a Hints over whole, and a
// later Suggest on the Error never writes into the giver's remedies.
func TestHints(t *testing.T) {
	var h Hints
	if h.Advised() {
		t.Fatal("zero Hints: advised")
	}
	h.Suggest(PinDigest).Suggest(UsePackedPrefix, "/opt", "slurm")
	if !h.Advised() || !slices.Equal(h.Fix, []Remedy{{PinDigest, ""}, {UsePackedPrefix, "/opt slurm"}}) {
		t.Fatalf("Suggest: %+v", h)
	}
	if !(&Hints{Hint: "re-publish it"}).Advised() {
		t.Fatal("a hint alone is advice")
	}

	// A carrier of another package embeds Hints, as fetch's failed attempts do.
	type attempt struct {
		url string
		Hints
	}
	a := &attempt{url: "https://m/x", Hints: Hints{Hint: "fix the mirror", Fix: make([]Remedy, 1, 8)}}
	a.Fix[0] = Remedy{Step: SignIndex}
	e := New(Integrity, "no mirror").Carry(a.Hints)
	if e.Hint != "fix the mirror" || !slices.Equal(Steps(e), []Step{SignIndex}) || HintOf(e) != "fix the mirror" {
		t.Fatalf("Carry: %q %v", e.Hint, Steps(e))
	}
	e.Suggest(RaiseTimeouts)
	a.Suggest(CheckPubKey)
	if !slices.Equal(Steps(e), []Step{SignIndex, RaiseTimeouts}) || !slices.Equal(a.Fix, []Remedy{{Step: SignIndex}, {Step: CheckPubKey}}) {
		t.Fatalf("carried remedies are shared: error %v, attempt %v", Steps(e), a.Fix)
	}

	// The Error's own advice is its embedded Hints: a literal sets it whole.
	lit := &Error{Class: NotInstalled, Err: errors.New("nothing installed"), Hints: Hints{Fix: []Remedy{{Step: Install}}}}
	if hint, fix := Advice(fmt.Errorf("status: %w", lit)); hint != "" || len(fix) != 1 || fix[0].Step != Install {
		t.Fatalf("Advice through a literal: %q %v", hint, fix)
	}
}
