// Package rootfs inspects a target root file system the way a process
// chrooted into it would see it, without writing anything.
//
// Real images are full of symlinks: Debian's /bin, /lib and /lib64 point into
// /usr, and /lib64/ld-linux-x86-64.so.2 is an ABSOLUTE symlink. os.Root treats
// an absolute target as an escape, so this package resolves paths itself,
// component by component, with the kernel's chroot semantics (docs/DESIGN.md §8).
//
// # Invariants
//
//   - Read-only: nothing in this package creates, changes or removes a file.
//     Writes into a root go through os.Root elsewhere (install, verify).
//   - Every path a caller passes is a path inside the root ("/bin/sh");
//     relative paths are taken from the root's "/".
//   - An absolute symlink target is taken relative to [FS.Dir]; ".." at the
//     root stays at the root, as it does inside chroot. A resolved host path
//     is therefore always [FS.Dir] or below it.
//   - At most 40 symlinks are followed per lookup (the kernel's limit);
//     more is ELOOP.
//   - Detection ([DetectArch], [DetectLibc]) reads ELF headers only and never
//     executes anything from the root; it says so honestly when it cannot
//     tell ("" or [Unknown] with the reason).
package rootfs
