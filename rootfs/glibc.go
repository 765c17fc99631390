package rootfs

import (
	"debug/elf"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"slurm-installer/internal/platform"
)

// GlibcVersion tells the version of the root's glibc ("2.36") from the
// symbol-version definitions (.gnu.version_d) of its libc.so.6: the highest
// GLIBC_x.y it defines is the glibc release. libc.so.6 is looked up in the
// directories the root's glibc loader searches (ld.so.conf, then the
// defaults), links resolved the way chroot would. It also returns the
// in-root path of the file read. A root without glibc, or a libc.so.6 with
// no GLIBC_ definitions (gcompat's shim), is an error.
func GlibcVersion(r *FS, arch string) (version, file string, err error) {
	if arch == "" {
		arch = platform.Host()
	}
	defs, file, err := libVersionDefs(r, "libc.so.6", arch)
	if err != nil {
		return "", file, err
	}
	v := HighestVersion(defs, "GLIBC")
	if v == "" {
		return "", file, fmt.Errorf("%s defines no GLIBC_ symbol versions (not GNU libc)", file)
	}
	return v, file, nil
}

// errNoLibrary says a library is not in the root's library path.
var errNoLibrary = errors.New("library not found in the root's library path")

// libVersionDefs finds the shared library soname for arch in the root's
// glibc library path and returns the symbol versions it defines
// ("GLIBC_2.2.5", ..., "GLIBCXX_3.4.30") and its in-root path.
func libVersionDefs(r *FS, soname, arch string) (defs []string, file string, err error) {
	want := platform.ELFMachine(arch)
	for _, d := range LibDirs(r, Glibc, arch) {
		p := path.Join(d, soname)
		f, err := r.Open(p)
		if err != nil {
			continue
		}
		ef, err := elf.NewFile(f)
		if err != nil || ef.Machine != want {
			f.Close()
			continue // ld.so skips a file of another machine too
		}
		defs, err = VersionDefs(ef)
		f.Close()
		if err != nil {
			return nil, p, fmt.Errorf("%s: %w", p, err)
		}
		return defs, p, nil
	}
	return nil, "", fmt.Errorf("%s: %w", soname, errNoLibrary)
}

// VersionDefs returns the names of the symbol versions an ELF shared object
// defines (its SHT_GNU_verdef section), without the base entry that names
// the file itself. A file with no version definitions gives none.
func VersionDefs(f *elf.File) ([]string, error) {
	vs, err := f.DynamicVersions()
	if err != nil {
		if f.SectionByType(elf.SHT_GNU_VERDEF) == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("read symbol versions: %w", err)
	}
	var out []string
	for _, v := range vs {
		if v.Flags&elf.VER_FLG_BASE != 0 {
			continue
		}
		out = append(out, v.Name)
	}
	return out, nil
}

// HighestVersion returns the highest "x.y[.z]" among names of the form
// FAMILY_x.y[.z] ("GLIBC_2.38" for family GLIBC gives "2.38"); names of
// other families and non-numeric ones (GLIBC_PRIVATE) are ignored. "" when
// there is none.
func HighestVersion(names []string, family string) string {
	best := ""
	for _, n := range names {
		v, ok := strings.CutPrefix(n, family+"_")
		if !ok || !numericVersion(v) {
			continue
		}
		if best == "" || CompareVersions(v, best) > 0 {
			best = v
		}
	}
	return best
}

// VersionFamily splits a symbol version name into its family and number:
// "GLIBCXX_3.4.32" is ("GLIBCXX", "3.4.32"); ok is false for names with no
// numeric version (GLIBC_PRIVATE, a soname).
func VersionFamily(name string) (family, version string, ok bool) {
	i := strings.LastIndexByte(name, '_')
	if i <= 0 || !numericVersion(name[i+1:]) {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

func numericVersion(v string) bool {
	if v == "" {
		return false
	}
	for _, p := range strings.Split(v, ".") {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// CompareVersions compares dotted numeric versions ("2.36" < "2.38" <
// "2.38.1"); a missing component counts as 0, a non-numeric one as 0.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
