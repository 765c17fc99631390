// Package install turns a verified artifact into an installed SLURM client
// under a target root, and records what it did.
//
// # Invariants
//
//   - Every write goes through an [os.Root] opened on the target root (or on
//     the staging directory for archive entries), so no path in an archive,
//     a receipt or a flag can make it write outside --root.
//   - Archive entries are checked before anything is written (design.md §6):
//     no absolute paths, no "..", no link that leaves the payload, no devices,
//     FIFOs or sockets; setuid/setgid bits are dropped; total size and entry
//     count are capped.
//   - The payload is staged beside the prefix and committed by swapping one
//     symlink (<prefix> -> .<name>-<version>-<id>), so <prefix> is at every
//     instant entirely the old payload or entirely the new one.
//   - Every change a commit makes (prefix link, command links, linker and
//     profile config, /etc/slurm files) can be undone by [Commit.Rollback]
//     until [Commit.Finalize] removes the previous payload.
//   - Runs on one root serialize on flock(2) of StateDir/lock ([Installer.Lock]);
//     under it, [Installer.CleanStale] removes whatever a killed run left
//     (staging, unused payload dirs, temp files, download dirs), so a run
//     killed at any instant leaves a state the next run repairs.
//   - Space is checked before extraction; a bundle that does not fit fails
//     (class 7, naming the directory, space needed and free) before
//     anything is written.
//   - [Installer.Repair] and [Installer.Uninstall] touch only what the
//     receipt lists; files the user changed or added are kept and named.
//   - Nothing from the bundle is executed; its install.sh is ignored.
//
// The receipt (/var/lib/slurm-installer/receipt.json) lists every file
// written with its hash; status, verify and uninstall read it.
package install
