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
	"slurm-installer/internal/sandbox"
)

// version is stamped at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	sandbox.MaybeChild() // the verification sandbox re-executes this binary as its helper; never returns then
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app.Version = version
	err := app.New().RunContext(ctx, os.Args)
	stop()
	app.Report(err)
	os.Exit(exitCode(err))
}

// exitCode maps an error to the exit-code table of design.md §3.
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
