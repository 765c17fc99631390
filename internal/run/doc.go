// Package run is one install run: the workflow behind `slurm-installer install` (and the
// download half of `fetch`), as a value. internal/app turns flags into a [Request] (validated
// there, once) and a [Result] into output; this package does the work in between:
//
//   - detect the target (architecture, C library, glibc);
//   - take the root's lock and read the receipt under it;
//   - decide: nothing to do, repair, install, or probe the cluster's candidates;
//   - obtain the verified bundle (--from, the cache, or fetch's racer over the mirrors);
//   - stage and check it (packed prefix, version, policy, ELF preflight) before the root changes;
//   - commit it through install's transaction, run the verification in the sandbox, and finish
//     the transaction (which writes the receipt) or roll it back;
//   - on failure, apply the fallback policy ([decide]: a pure function of the failure).
//
// # Invariants
//
//   - The root changes only inside install's transaction: a failed run leaves the previous
//     install (or nothing) exactly as it was; the receipt is written exactly when the commit
//     is finalized (install.Commit.Finish).
//   - An interrupted run (a signal) never records demo mode, and a working install is never
//     replaced by demo mode.
//   - A refusal to touch what is not ours, a usage error or a held lock is never turned into
//     demo mode.
//
// This package is the command line's use case: its messages may name the install command's
// flags (it implements their semantics); the domain packages below it do not (DESIGN.md §7).
package run
