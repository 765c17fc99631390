//go:build !runtime

package app

import "github.com/urfave/cli/v2"

// buildNote is what `version` adds after the platform: nothing for the full build.
const buildNote = ""

// commands is the full build's command set: with no command the app
// installs (install's flags at the top level too).
func (u *ui) commands() (def *cli.Command, defFlags []cli.Flag, cmds []*cli.Command) {
	install := u.installCommand("install")
	return install, u.installCommand("").Flags, []*cli.Command{
		install,
		u.fetchCommand(),
		u.listCommand(),
		u.verifyCommand(),
		u.connectCommand(),
		u.statusCommand(),
		u.uninstallCommand(),
		u.packCommand(),
	}
}

// tailor adapts the app to the build: nothing for the full build.
func tailor(*cli.App) {}
