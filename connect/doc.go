// Package connect connects an installed SLURM client to its cluster at
// container start: from the controller's address and a credential mounted
// at run time, it leaves a root where any process, started with a clean
// environment, runs sinfo, squeue and scontrol against the cluster.
//
// # Order
//
// [Connect] takes these steps in order and stops at the first missing
// piece, naming it with its fix (class failure.Verify):
//
//  1. reach: a TCP connection to the controller (port 6817 by default);
//  2. configuration: the root's own /etc/slurm/slurm.conf when the site
//     put one there; else a slurm.conf fetched from a URL the site
//     publishes; else the controller's own, fetched "configless" by the
//     installed client itself (SLURM_CONF_SERVER), authenticated with the
//     mounted credential (configless disabled, no credential and a
//     rejected credential are told apart here);
//  3. this container: the configuration connect writes names the bundle's
//     plugin directory and the credential's real path; a site's own file
//     is never edited, so a PluginDir missing from the root becomes a link
//     to the bundle's plugins;
//  4. authentication: the munge socket mounted at /run/munge, or, for
//     auth/slurm with the cluster's slurm.key mounted and no munge socket,
//     the bundle's sackd, which connect starts (sackd --conf-server also
//     fetches and caches the configuration in /run/slurm/conf, where
//     client commands look when /etc/slurm/slurm.conf is absent);
//  5. proof: the installed sinfo lists the cluster's nodes, run in the
//     root as the verification does (sandboxed), with the protocol window
//     check of package verify.
//
// # Invariants
//
//   - Nothing secret is written: no key is copied, the credential is only
//     used where it is mounted. What is written is the cluster's slurm.conf
//     (adapted) at /etc/slurm/slurm.conf, links at missing plugin
//     directories and /run/slurm for sackd, nothing else, all through
//     os.Root (never outside the root).
//   - Ownership: every path written is recorded with its hash in
//     /var/lib/slurm-installer/connect.json. A path that holds something
//     connect did not write is refused (class 7) or, when forced, moved to
//     a backup beside it, recorded, and put back by [Undo] (which
//     uninstall runs).
//   - sackd is the one process connect leaves running: started chrooted in
//     the root as root (it reads the mounted key), not sandboxed; one that
//     already answers on /run/slurm/sack.socket is kept; [Undo] stops it
//     (only a sackd run from the installer's own payload directory).
//   - Re-running is safe: connect's own files are rewritten from the
//     controller's current configuration; the site's are used as they are.
//   - The configless fetch goes through a relay on 127.0.0.1 only, for the
//     one run of the client; it listens nowhere else and is closed before
//     [Connect] returns. Captured bytes are bounded.
//   - Domain words only: no flag or command line of the installer is named
//     here; remedies are failure.Steps.
package connect
