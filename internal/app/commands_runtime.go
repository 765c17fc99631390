//go:build runtime

package app

import (
	"github.com/urfave/cli/v2"

	"slurm-installer/internal/failure"
)

// buildNote is what `version` adds after the platform.
const buildNote = ", runtime build: connect, status, verify"

// commands is the runtime build's command set (`make build` writes it as
// bin/slurm-installer-runtime-*; -tags runtime): what an image runs after
// it is built — connect at container start, status, verify. The commands
// that fetch, install, publish or remove are not linked (the binary is
// ~2.7 MB smaller, docs/BENCHMARKS.md); naming one, or giving no command,
// is a usage error (exit 2) that says which binary has it.
func (u *ui) commands() (def *cli.Command, defFlags []cli.Flag, cmds []*cli.Command) {
	def = &cli.Command{Action: func(c *cli.Context) error {
		if c.Args().Present() {
			return unknownCommand(c.App, c.Args().First())
		}
		return notInRuntime("install (no command)")
	}}
	cmds = []*cli.Command{u.verifyCommand(), u.connectCommand(), u.statusCommand()}
	for _, name := range []string{"install", "fetch", "list", "uninstall", "pack"} {
		cmds = append(cmds, &cli.Command{Name: name, Hidden: true, SkipFlagParsing: true,
			Action: func(*cli.Context) error { return notInRuntime(name) }})
	}
	return def, nil, cmds
}

// notInRuntime is the usage error for a command the runtime build leaves out.
func notInRuntime(what string) error {
	return failure.New(failure.Usage, "%s is not in this binary: it is slurm-installer's runtime build (connect, status, verify)", what).
		WithHint("install, fetch, list, uninstall and pack are in the full slurm-installer (the installer image's /slurm-installer); " +
			"in a Dockerfile, mount it for the install step: RUN --mount=type=bind,from=<installer image>,source=/slurm-installer,target=/usr/local/bin/slurm-installer slurm-installer ...")
}

// tailor says what this build is in --help, and answers install's flags
// at the top level (a Dockerfile's `RUN slurm-installer --mirrors ...`
// with this binary) with notInRuntime instead of "unknown flag".
func tailor(a *cli.App) {
	a.Usage = "the runtime build of slurm-installer: connect the installed SLURM client to its cluster, report and verify it"
	a.Description = "This binary has connect, status and verify only: it is for an image at run time (docs/USAGE.md,\n" +
		"\"The runtime build\"). Installing needs the full slurm-installer.\n\n" +
		"Exit codes: 0 ok, 1 bug, 2 usage, 3 demo/not installed, 7 file system, 8 verification, 9 locked."
	a.OnUsageError = func(c *cli.Context, err error, sub bool) error {
		if c.Command == nil || c.Command.Name == "" || c.Command.Name == a.Name {
			return notInRuntime("install (no command, with install's flags)")
		}
		return usageError(c, err, sub)
	}
}
