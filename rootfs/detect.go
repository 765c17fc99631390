package rootfs

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/platform"
)

// Libc is the C library a root's programs are linked against: the bundle
// contract's type, so what detection says is what a receipt records.
type Libc = bundle.Libc

// The C libraries the installer knows.
const (
	Musl    = bundle.Musl
	Glibc   = bundle.Glibc
	Unknown = bundle.UnknownLibc
)

// ELFInfo is what detection reads from an ELF header.
type ELFInfo struct {
	Arch    string // canonical arch ("x86_64"), "" when not one AppHub serves
	Machine elf.Machine
	Interp  string // PT_INTERP, "" for a static binary or a library
}

// ReadELF reads the ELF header and PT_INTERP of the file p in the root.
func (r *FS) ReadELF(p string) (*ELFInfo, error) {
	f, err := r.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadELFFrom(f)
}

// ReadELFFrom reads the ELF header and PT_INTERP from ra.
func ReadELFFrom(ra io.ReaderAt) (*ELFInfo, error) {
	ef, err := elf.NewFile(ra)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	info := &ELFInfo{Arch: platform.FromELF(ef.Machine), Machine: ef.Machine}
	info.Interp, err = Interp(ef)
	return info, err
}

// Interp returns f's PT_INTERP, or "" when it has none.
func Interp(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		if p.Filesz > 4096 {
			return "", errors.New("PT_INTERP is too long")
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil && err != io.EOF {
			return "", fmt.Errorf("read PT_INTERP: %w", err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// archProbes are the files DetectArch reads, in order.
var archProbes = []string{"/bin/sh", "/bin/busybox", "/usr/bin/env"}

// glibcLoaders are where a glibc loader may be found for an arch: the
// ABI path first, then the multiarch one.
func glibcLoaders(arch string) []string {
	switch arch {
	case platform.X86_64:
		return []string{"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib64/ld-linux-x86-64.so.2"}
	case platform.AArch64:
		return []string{"/lib/ld-linux-aarch64.so.1", "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "/lib64/ld-linux-aarch64.so.1"}
	}
	return nil
}

var knownArches = []string{platform.X86_64, platform.AArch64}

// DetectArch tells the root's architecture from the ELF header of /bin/sh
// (links followed the chroot way), else /bin/busybox, /usr/bin/env, else the
// dynamic loaders present. It returns the canonical arch and the evidence,
// or "" and an error when nothing tells; the caller then falls back to the
// host's arch.
func DetectArch(r *FS) (arch, evidence string, err error) {
	var notes []string
	for _, p := range archProbes {
		info, err := r.ReadELF(p)
		if err != nil {
			if r.Exists(p) {
				notes = append(notes, fmt.Sprintf("%s: %v", p, err))
			}
			continue
		}
		if info.Arch == "" {
			notes = append(notes, fmt.Sprintf("%s is ELF for %v", p, info.Machine))
			continue
		}
		return info.Arch, fmt.Sprintf("%s is an ELF %s executable", r.describe(p), info.Arch), nil
	}
	for _, a := range knownArches {
		if l := platform.MuslLoader(a); r.Exists(l) {
			return a, "found " + l, nil
		}
	}
	for _, a := range knownArches {
		for _, l := range glibcLoaders(a) {
			info, err := r.ReadELF(l)
			if err != nil || info.Arch == "" {
				continue
			}
			return info.Arch, fmt.Sprintf("%s is an ELF %s loader", r.describe(l), info.Arch), nil
		}
	}
	msg := "nothing in the root tells its architecture (no /bin/sh, /bin/busybox, /usr/bin/env or dynamic loader)"
	if len(notes) > 0 {
		msg += ": " + strings.Join(notes, "; ")
	}
	return "", "", errors.New(msg)
}

// describe names p and, when it is a link, where it leads ("/bin/sh ->
// /usr/bin/dash").
func (r *FS) describe(p string) string {
	c, err := r.Canonical(p)
	if err != nil || c == clean(p) {
		return p
	}
	return p + " -> " + c
}

// DetectLibc tells the root's C library from the dynamic loaders present
// for arch ("" tries every arch), with the evidence. When both a musl and a
// glibc loader exist, the root's own shell decides: the loader /bin/sh's
// PT_INTERP names (links followed the chroot way) is the native one, so
// Debian with its musl package is [Glibc] and Alpine with gcompat is
// [Musl]; the evidence says the other loader is present too. When /bin/sh
// does not tell (absent, static, a loader that is not there) a root with
// both is taken for [Musl] (see also [GlibcLoader]). With neither loader
// it says [Unknown] and why.
func DetectLibc(r *FS, arch string) (Libc, string) {
	arches := knownArches
	if arch != "" {
		arches = []string{arch}
	}
	musl := ""
	for _, a := range arches {
		if l := platform.MuslLoader(a); r.Exists(l) {
			musl = l
			break
		}
	}
	glibc := ""
	for _, a := range arches {
		if l, ok := glibcLoader(r, a); ok {
			glibc = l
			break
		}
	}
	sh, shLibc := "", Unknown
	if info, err := r.ReadELF("/bin/sh"); err == nil {
		if info.Interp != "" {
			sh = "/bin/sh's PT_INTERP is " + info.Interp
			if r.IsRegular(info.Interp) {
				shLibc = bundle.LibcOfLoader(info.Interp)
			}
		} else {
			sh = "/bin/sh is statically linked"
		}
	}
	switch {
	case musl != "" && glibc != "" && shLibc == Glibc:
		// Debian's musl package: its loader is there, but the root's
		// programs use glibc's (issue 22).
		return Glibc, fmt.Sprintf("found %s (glibc loader), which %s uses (PT_INTERP); a musl loader %s is present too",
			glibc, r.describe("/bin/sh"), musl)
	case musl != "" && glibc != "":
		ev := "found " + musl + "; a glibc loader " + glibc + " is present too (gcompat)"
		if sh != "" {
			ev += "; " + sh
		}
		return Musl, ev
	case musl != "":
		return Musl, "found " + musl
	case glibc != "":
		return Glibc, "found " + glibc + " (glibc loader)"
	}
	ev := "no musl or glibc dynamic loader found"
	if len(arches) == 1 {
		ev += fmt.Sprintf(" (looked for %s and %s)", platform.MuslLoader(arches[0]), strings.Join(glibcLoaders(arches[0]), ", "))
	}
	if sh != "" {
		ev += "; " + sh
	}
	return Unknown, ev
}

// glibcLoader returns the path of a glibc loader for arch present in the
// root, if any: the ABI path (/lib64/ld-linux-x86-64.so.2,
// /lib/ld-linux-aarch64.so.1) or the multiarch one.
func glibcLoader(r *FS, arch string) (string, bool) {
	for _, l := range glibcLoaders(arch) {
		if r.IsRegular(l) {
			return l, true
		}
	}
	return "", false
}

// Triplet is the Debian multiarch triplet of an arch ("x86_64-linux-gnu").
func Triplet(arch string) string {
	switch arch {
	case platform.X86_64:
		return "x86_64-linux-gnu"
	case platform.AArch64:
		return "aarch64-linux-gnu"
	}
	return ""
}

// DefaultLibDirs are the directories the target's loader searches when
// nothing is configured: for glibc the multiarch and lib64 system dirs
// (generous: the union of what Debian, Ubuntu and RHEL-like builds use,
// with ld.so.cache); for musl /lib, /usr/local/lib, /usr/lib. For
// [Unknown] the union of both.
func DefaultLibDirs(libc Libc, arch string) []string {
	musl := []string{"/lib", "/usr/local/lib", "/usr/lib"}
	var glibc []string
	if t := Triplet(arch); t != "" {
		glibc = append(glibc, "/lib/"+t, "/usr/lib/"+t)
	}
	glibc = append(glibc, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
	switch libc {
	case Musl:
		return musl
	case Glibc:
		return glibc
	}
	return dedup(append(glibc, musl...))
}

// LibDirs are the directories the target's loader searches for a library
// with no RUNPATH help: for musl the contents of /etc/ld-musl-<arch>.path
// when it exists (it REPLACES the default path), else the defaults; for
// glibc the directories of /etc/ld.so.conf (includes followed) and then the
// defaults.
func LibDirs(r *FS, libc Libc, arch string) []string {
	switch libc {
	case Musl:
		if dirs, ok := muslPath(r, arch); ok {
			return dirs
		}
		return DefaultLibDirs(libc, arch)
	case Glibc:
		return dedup(append(ldSoConfDirs(r), DefaultLibDirs(libc, arch)...))
	}
	dirs := ldSoConfDirs(r)
	if m, ok := muslPath(r, arch); ok {
		dirs = append(dirs, m...)
	}
	return dedup(append(dirs, DefaultLibDirs(libc, arch)...))
}

// muslPath reads /etc/ld-musl-<arch>.path: directories separated by
// colons or newlines. ok is false when the file does not exist.
func muslPath(r *FS, arch string) (dirs []string, ok bool) {
	if arch == "" {
		return nil, false
	}
	b, err := r.ReadFile("/etc/ld-musl-" + arch + ".path")
	if err != nil {
		return nil, false
	}
	for _, d := range strings.FieldsFunc(string(b), func(c rune) bool { return c == ':' || c == '\n' || c == '\r' }) {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	return dedup(dirs), true
}

// ldSoConfDirs reads the directories listed in the root's /etc/ld.so.conf,
// following "include" lines (globs relative to /etc) as ldconfig does.
// Only /etc/ld.so.conf is read: a root with an ld.so.conf.d but no
// ld.so.conf (distroless) has no configured dirs.
func ldSoConfDirs(r *FS) []string {
	var dirs []string
	seen := map[string]bool{}
	var read func(file string, depth int)
	read = func(file string, depth int) {
		if depth > 8 || seen[file] {
			return
		}
		seen[file] = true
		b, err := r.ReadFile(file)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "include":
				for _, g := range f[1:] {
					if !strings.HasPrefix(g, "/") {
						g = path.Join(path.Dir(file), g)
					}
					ms, _ := r.Glob(g)
					for _, m := range ms {
						read(m, depth+1)
					}
				}
				continue
			case "hwcap":
				continue
			}
			for _, d := range strings.FieldsFunc(line, func(c rune) bool {
				return c == ' ' || c == '\t' || c == ':' || c == ',' || c == '\r'
			}) {
				if i := strings.IndexByte(d, '='); i >= 0 {
					d = d[:i] // "dir=libc6" in old ld.so.conf
				}
				if strings.HasPrefix(d, "/") {
					dirs = append(dirs, path.Clean(d))
				}
			}
		}
	}
	read("/etc/ld.so.conf", 0)
	return dedup(dirs)
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Distro names the root's distribution family from /etc/os-release and
// the release files: "alpine", "debian" (Debian, Ubuntu and derivatives),
// "rhel" (Rocky, Alma, RHEL, CentOS, Fedora), or "" when unknown.
func Distro(r *FS) string {
	switch {
	case r.Exists("/etc/alpine-release"):
		return "alpine"
	case r.Exists("/etc/debian_version"):
		return "debian"
	case r.Exists("/etc/redhat-release"):
		return "rhel"
	}
	b, err := r.ReadFile("/etc/os-release")
	if err != nil {
		b, err = r.ReadFile("/usr/lib/os-release")
		if err != nil {
			return ""
		}
	}
	var ids []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && (k == "ID" || k == "ID_LIKE") {
			ids = append(ids, strings.Fields(strings.ToLower(strings.Trim(v, `"'`)))...)
		}
	}
	for _, id := range ids {
		switch id {
		case "alpine":
			return "alpine"
		case "debian", "ubuntu":
			return "debian"
		case "rhel", "fedora", "centos", "rocky", "almalinux":
			return "rhel"
		}
	}
	return ""
}
