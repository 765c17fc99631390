// Command slurm-installer puts a verified SLURM client into a container
// image or a root file system, from AppHub mirrors. See README.md.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"slurm-installer/internal/app"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/sandbox"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sandbox.MaybeChild() // the verification sandbox re-executes this binary as its helper; never returns then
	ctx, stop := signalContext()
	app.Version = version
	err := app.Run(ctx, os.Args, os.Stdout, os.Stderr) // logs err itself
	stop()
	os.Exit(exitCode(err))
}

// signalContext is cancelled, with a *failure.Signal as its cause, by the
// first SIGINT or SIGTERM; the run then stops and cleans up. A second signal
// has its default effect (the process dies at once; the next run repairs).
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(&failure.Signal{Sig: s})
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(ch); close(done); cancel(nil) }
}

// exitCode maps an error to the exit-code table of docs/DESIGN.md §3.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var e interface{ ExitCode() int }
	if errors.As(err, &e) {
		return e.ExitCode()
	}
	return 1
}
