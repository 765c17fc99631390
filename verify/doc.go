// Package verify answers two questions about a SLURM client bundle and a
// target root: will it run there ([Preflight], [VerifyInstalled]: ELF
// headers only), and does it ([RunVersion], [Cluster]: the installed
// command, run the way a backend process runs it).
//
// # Invariants
//
//   - Preflight only reads: ELF headers, program headers and the dynamic
//     section of each file, through debug/elf. It never executes anything
//     and never reads a file's code, so ~130 files take milliseconds.
//   - Target paths are looked up with chroot semantics through [rootfs.FS];
//     a path under the prefix is looked up in the payload instead, so a
//     staged bundle can be checked before it is committed.
//   - Every missing loader or library is reported once, with the sorted
//     list of payload files that need it, in [Report.Missing]; the error is
//     of class failure.Verify and its hint fits the target distribution.
//   - RunVersion and Cluster exec with a minimal environment (PATH only,
//     plus SLURM_CONF for the throwaway conf), no shell, no
//     LD_LIBRARY_PATH, inside the root with chroot(2) when asked, and
//     always through internal/sandbox: as uid/gid 65534 with no
//     capabilities and no_new_privs, the root read-only, in new PID, mount,
//     IPC and UTS namespaces (and network, except for the cluster check),
//     bounded in time; nothing the command starts outlives the run. What
//     the kernel would not allow is reported ([RunResult.Sandbox],
//     Warnings). A cancelled context comes back wrapped and unclassified.
//   - Preflight also compares symbol versions: every GLIBC_/GLIBCXX_/
//     CXXABI_/GCC_ version a payload ELF needs must be defined by the file
//     its DT_NEEDED entry resolves to (the root's, or the bundle's own).
//   - Cluster tells SLURM's protocol-mismatch signature ("Zero Bytes were
//     transmitted or received") from reachability problems and reports the
//     controller's version against this client's window ([CanTalk]).
//   - The only writes are RunVersion's throwaway slurm.conf under
//     <root>/var/lib/slurm-installer/verify-*/, made through os.Root (never
//     outside the root) and removed before RunVersion returns, error or not.
//   - When a command cannot be run here (chroot without root privileges, or
//     a binary for another CPU), the error wraps [ErrCannotExec] so the
//     caller can report "checked files only" instead of a failure.
package verify
