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
