package run

import (
	"strings"

	"github.com/rs/zerolog"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/rootfs"
)

// Target is what detection found out about the root.
type Target struct {
	Arch, ArchEvidence string
	Libc               bundle.Libc
	LibcEvidence       string
	// Glibc is the root's glibc version ("2.36", from its libc.so.6's
	// version definitions; "" when it has none or it cannot be read),
	// GlibcFile the in-root file it was read from.
	// Read only when a bundle is chosen (not on a no-op run): see rootGlibc.
	Glibc, GlibcFile string
	glibcRead        bool // Glibc was looked up (or must not be: fetch for another root)
	fs               *rootfs.FS
}

// ForAnyRoot makes the target judge no bundle by this root's C library or glibc: fetch for
// some other root (a cache warmed on a build host, docs/DESIGN.md §9).
func (t *Target) ForAnyRoot() {
	t.Glibc, t.GlibcFile, t.Libc, t.glibcRead = "", "", "", true
}

// rootGlibc reads the root's glibc version once, when bundle selection
// needs it; a no-op run never parses libc.so.6.
func (t *Target) rootGlibc(log zerolog.Logger) (version, file string) {
	if !t.glibcRead && t.Libc == bundle.Glibc {
		if v, f, err := rootfs.GlibcVersion(t.fs, t.Arch); err == nil {
			t.Glibc, t.GlibcFile = v, f
			log.Info().Str("glibc", v).Str("glibc_from", f).Msg("the root's glibc version")
		} else {
			log.Info().Str("glibc", "unknown ("+err.Error()+")").Msg("the root's glibc version")
		}
	}
	t.glibcRead = true
	return t.Glibc, t.GlibcFile
}

// archAgrees refuses an --arch that contradicts the root the install goes
// into: its programs say another architecture, so the bundle for --arch
// could not run there. (fetch may name any arch: it installs nothing.)
func archAgrees(t *Target) error {
	a, ev, err := rootfs.DetectArch(t.fs)
	if err != nil || a == "" || a == t.Arch {
		return nil
	}
	return failure.New(failure.Usage, "--arch %s, but the target root is %s (%s): a %s bundle cannot run there", t.Arch, a, ev, t.Arch).
		WithHint("drop --arch (the root's architecture is detected), or point --root at the %s image", t.Arch)
}

// Detect finds the root's architecture (or takes arch, "--arch") and C library.
func Detect(rootDir, arch string, log zerolog.Logger) (*Target, error) {
	t := &Target{fs: rootfs.New(rootDir)}
	if a := strings.TrimSpace(arch); a != "" {
		n, err := platform.Normalize(a)
		if err != nil {
			return nil, failure.New(failure.Usage, "--arch: %w", err)
		}
		t.Arch, t.ArchEvidence = n, "--arch"
	} else if a, ev, err := rootfs.DetectArch(t.fs); err == nil && a != "" {
		t.Arch, t.ArchEvidence = a, ev
	} else {
		t.Arch, t.ArchEvidence = platform.Host(), "this host (nothing in the root to detect it from)"
		if t.Arch == "" {
			return nil, failure.New(failure.Usage, "cannot detect the target architecture; pass --arch x86_64 or --arch aarch64")
		}
	}
	libc, ev := rootfs.DetectLibc(t.fs, t.Arch)
	t.Libc, t.LibcEvidence = libc, ev
	log.Info().Str("arch", t.Arch).Str("arch_from", t.ArchEvidence).Str("libc", string(t.Libc)).Str("libc_from", t.LibcEvidence).Msg("target detected")
	return t, nil
}
