// Package install turns a verified artifact into an installed SLURM client
// under a target root, and records what it did.
//
// # Invariants
//
//   - Every write goes through an [os.Root] opened on the target root (or on
//     the staging directory for archive entries), so no path in an archive,
//     a receipt or a flag can make it write outside --root.
//   - Archive entries are checked before anything is written (docs/DESIGN.md §6):
//     no absolute paths, no "..", no link that leaves the payload, no devices,
//     FIFOs or sockets; setuid/setgid bits are dropped; total size and entry
//     count are capped.
//   - The payload is staged beside the prefix and committed by swapping one
//     symlink (<prefix> -> .<name>-<version>-<id>), so <prefix> is at every
//     instant entirely the old payload or entirely the new one.
//   - Every change a commit makes (prefix link, command links, linker and
//     profile config, /etc/slurm files, backups, created directories) can be
//     undone by [Commit.Rollback] until [Commit.Finalize] removes the
//     previous payload (only the one a receipt recorded, journaled before
//     the prefix swap).
//   - Runs on one root serialize on flock(2) of the state directory's lock ([Installer.Lock]);
//     under it, [Installer.CleanStale] undoes, by the journal's record, what
//     a killed run left (staging and payload dirs it made, backups, a first
//     install's links and configs) and removes temp files and download
//     dirs, so a run killed at any instant leaves a state the next run
//     repairs.
//   - Space is checked before extraction; a bundle that does not fit fails
//     (class 7, naming the directory, space needed and free) before
//     anything is written.
//   - [Installer.Repair] and [Installer.Uninstall] touch only what the
//     receipt lists; files the user changed or added are kept and named.
//
// # Ownership (do no harm, docs/DESIGN.md §5)
//
//   - Nothing is changed or removed unless it is provably ours: listed in a
//     valid receipt (with the content or link target it has now), or in the
//     journal (backups-pending.json) written before the change, as the
//     directory it still is (its inode); a temp file or link with our
//     random id. Never by a name pattern alone: a site's
//     .slurm-old-20240115 beside the prefix looks like a payload directory.
//   - State files (receipt, journal, lock, the config files compared or
//     merged into) are read under the lock through safeio.ReadFileIn:
//     regular, no link, never blocking, capped, cancelled with the run.
//   - The prefix is ours only as a link to one of our payload directories.
//     A real directory there (--prefix /opt holding other software), a
//     site's link (slurm -> slurm-23.02.1, slurm -> .., an absolute link) or
//     a file is foreign; so is a command path in --bin-dir that is a file or
//     a link not into the prefix, and a config file (/etc/profile.d/slurm.sh,
//     /etc/ld.so.conf.d/slurm.conf) whose content is not what a valid receipt
//     says we wrote (or exactly what we are about to write). A foreign thing
//     is refused, class 7, naming the path ([ErrNotOurs]); with
//     Options.Force it is moved aside to a backup and never deleted. The
//     target of a foreign link is never touched.
//   - Backups live beside the path they replace, named
//     .slurm-installer-backup.<8 hex>.<name> (same directory, so the move is
//     one rename on one file system: a directory the size of /opt is never
//     copied, and no byte is lost). Each is recorded in the receipt
//     ([Backup]: path, backup path, what it was) and carried across
//     reinstalls; [Installer.Uninstall] moves it back once our own thing at
//     the path is gone, and Rollback does the same for a failed commit.
//   - The receipt records every path written and what stood there before
//     (Config.Created, Backups) and the directories the install created
//     (CreatedDirs). A reinstall (--force, demo then real, upgrade) inherits
//     that pre-install state from the previous receipt instead of taking our
//     own earlier file for the site's. Uninstall removes what it wrote,
//     restores backups and removes the created directories that are empty,
//     so the root returns to its pre-install state (site config in
//     /etc/slurm, the state directory and the regenerated loader cache aside).
//   - The receipt lives inside the root, so it is untrusted input: every
//     path is checked (clean, absolute in the root, inside what we own: the
//     prefix, the payload directory pattern, links in bin-dir into the
//     prefix, our config paths, /etc/slurm), digests are 64 hex and sizes
//     sane, before anything reads or acts on it (class 7).
//   - The lock file is never followed: a lock that is a link or not a
//     regular file is refused.
//   - Link targets in bin-dir are relative and computed from where bin-dir
//     really is (merged /usr: /bin -> usr/bin), so they resolve.
//   - /etc/profile.d/slurm.sh quotes the prefix and bin-dir for POSIX sh;
//     [Open] refuses control characters in them.
//   - Nothing from the bundle is executed; its install.sh is ignored.
//
// The receipt (/var/lib/slurm-installer/receipt.json) lists every file
// written with its hash; status, verify and uninstall read it.
package install
