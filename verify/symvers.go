package verify

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"slurm-installer/internal/failure"
	"slurm-installer/rootfs"
)

// MissingVersion is one library that payload files resolve to but that
// lacks symbol versions they need, grouped by version family: "libc.so.6
// (/usr/lib/x86_64-linux-gnu/libc.so.6) defines up to GLIBC_2.36, bin/sinfo
// needs GLIBC_2.38".
type MissingVersion struct {
	Library  string   `json:"library"`  // the DT_NEEDED name, libc.so.6
	File     string   `json:"file"`     // the in-root path it resolves to
	Family   string   `json:"family"`   // GLIBC, GLIBCXX, CXXABI, GCC, ...
	Need     string   `json:"need"`     // the highest version of the family needed, "2.39"
	Have     string   `json:"have"`     // the highest the file defines, "2.36"; "" none
	Versions []string `json:"versions"` // every missing version name, sorted
	NeededBy []string `json:"needed_by"`
}

// symvers collects what Preflight learns about symbol versions.
type symvers struct {
	defs      map[string]map[string]bool // in-root path -> versions defined (nil: unversioned)
	miss      map[[3]string]map[string]bool
	byKey     map[[3]string]*MissingVersion
	glibcNeed string // highest GLIBC_ needed by any file
	glibcHave string // highest GLIBC_ defined by the libc.so.6 files resolve to
	libc      string // the in-root path of that libc.so.6
}

func newSymvers() *symvers {
	return &symvers{defs: map[string]map[string]bool{}, miss: map[[3]string]map[string]bool{}, byKey: map[[3]string]*MissingVersion{}}
}

// definitions reads (once) the versions the in-root file p defines.
func (s *symvers) definitions(l *lookup, p string) map[string]bool {
	if d, ok := s.defs[p]; ok {
		return d
	}
	var d map[string]bool
	if h, ok := l.host(p); ok {
		if f, err := elf.Open(h); err == nil {
			if names, err := rootfs.VersionDefs(f); err == nil && len(names) > 0 {
				d = map[string]bool{}
				for _, n := range names {
					d[n] = true
				}
			}
			f.Close()
		}
	}
	s.defs[p] = d
	return d
}

// check compares what f needs from the library name (resolved to the
// in-root path p) with what p defines.
func (s *symvers) check(l *lookup, f *elfInfo, name, p string) {
	need := f.verneed[name]
	if len(need) == 0 || p == "" {
		return
	}
	for _, v := range need {
		if fam, ver, ok := rootfs.VersionFamily(v); ok && fam == "GLIBC" {
			if s.glibcNeed == "" || rootfs.CompareVersions(ver, s.glibcNeed) > 0 {
				s.glibcNeed = ver
			}
		}
	}
	defs := s.definitions(l, p)
	if name == "libc.so.6" && s.libc == "" {
		s.libc = p
		var names []string
		for n := range defs {
			names = append(names, n)
		}
		s.glibcHave = rootfs.HighestVersion(names, "GLIBC")
	}
	if defs == nil {
		// An unversioned library (musl's loader behind gcompat's
		// libc.so.6): the loader does not check versions against it.
		return
	}
	for _, v := range need {
		if defs[v] {
			continue
		}
		fam, ver, ok := rootfs.VersionFamily(v)
		if !ok {
			fam, ver = v, "" // GLIBC_PRIVATE and the like
		}
		k := [3]string{p, fam, name}
		mv := s.byKey[k]
		if mv == nil {
			var have []string
			for n := range defs {
				have = append(have, n)
			}
			mv = &MissingVersion{Library: name, File: p, Family: fam, Have: rootfs.HighestVersion(have, fam)}
			s.byKey[k] = mv
			s.miss[k] = map[string]bool{}
		}
		if ver != "" && (mv.Need == "" || rootfs.CompareVersions(ver, mv.Need) > 0) {
			mv.Need = ver
		}
		if !contains(mv.Versions, v) {
			mv.Versions = append(mv.Versions, v)
		}
		s.miss[k][f.rel] = true
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// missing returns the collected problems, sorted. GLIBC_ versions missing
// from any of glibc's libraries (libc.so.6, libm.so.6, ...) are one
// problem: the glibc release, which libc.so.6's definitions tell (libm's
// highest GLIBC_ version is older than the release it belongs to).
func (s *symvers) missing() []MissingVersion {
	var out []MissingVersion
	var glibc *MissingVersion
	by := map[string]bool{}
	for k, mv := range s.byKey {
		if mv.Family == "GLIBC" && mv.Need != "" {
			if glibc == nil {
				glibc = &MissingVersion{Library: "libc.so.6", File: s.libc, Family: "GLIBC", Have: s.glibcHave}
				if glibc.File == "" {
					glibc.File = mv.File
				}
			}
			if glibc.Need == "" || rootfs.CompareVersions(mv.Need, glibc.Need) > 0 {
				glibc.Need = mv.Need
			}
			if s.glibcHave == "" && (glibc.Have == "" || rootfs.CompareVersions(mv.Have, glibc.Have) > 0) {
				glibc.Have = mv.Have
			}
			for _, v := range mv.Versions {
				if !contains(glibc.Versions, v) {
					glibc.Versions = append(glibc.Versions, v)
				}
			}
			for b := range s.miss[k] {
				by[b] = true
			}
			continue
		}
		for b := range s.miss[k] {
			mv.NeededBy = append(mv.NeededBy, b)
		}
		sort.Strings(mv.NeededBy)
		sort.Slice(mv.Versions, func(i, j int) bool { return versionLess(mv.Versions[i], mv.Versions[j]) })
		out = append(out, *mv)
	}
	if glibc != nil {
		for b := range by {
			glibc.NeededBy = append(glibc.NeededBy, b)
		}
		sort.Strings(glibc.NeededBy)
		sort.Slice(glibc.Versions, func(i, j int) bool { return versionLess(glibc.Versions[i], glibc.Versions[j]) })
		out = append(out, *glibc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Family != out[j].Family {
			return out[i].Family < out[j].Family
		}
		return out[i].File < out[j].File
	})
	return out
}

func versionLess(a, b string) bool {
	fa, va, oka := rootfs.VersionFamily(a)
	fb, vb, okb := rootfs.VersionFamily(b)
	if oka && okb && fa == fb {
		return rootfs.CompareVersions(va, vb) < 0
	}
	return a < b
}

// summary is the report line.
func (s *symvers) summary(ms []MissingVersion) Check {
	c := Check{Name: "symbol-versions", OK: len(ms) == 0}
	switch {
	case len(ms) > 0:
		var d []string
		for _, m := range ms {
			d = append(d, m.describe())
		}
		c.Detail = strings.Join(d, "; ")
	case s.glibcNeed == "":
		c.Detail = "no file needs a GLIBC_ symbol version"
	case s.glibcHave != "":
		c.Detail = fmt.Sprintf("the payload needs up to GLIBC_%s; %s is glibc %s", s.glibcNeed, s.libc, s.glibcHave)
	default:
		c.Detail = fmt.Sprintf("the payload needs up to GLIBC_%s; the libc.so.6 it resolves to carries no symbol versions (not checked)", s.glibcNeed)
	}
	return c
}

// describe says what is missing, for the error and the report.
func (m MissingVersion) describe() string {
	by := neededBy(m.NeededBy)
	if m.Need == "" { // a non-numeric version such as GLIBC_PRIVATE
		return fmt.Sprintf("%s (%s) does not define %s, needed by %s", m.Library, m.File, strings.Join(m.Versions, ", "), by)
	}
	have := "defines no " + m.Family + "_ version"
	if m.Have != "" {
		have = "defines up to " + m.Family + "_" + m.Have
	}
	what := fmt.Sprintf("%s_%s from %s", m.Family, m.Need, m.Library)
	if m.Family == "GLIBC" {
		what = "glibc " + m.Need
		if m.Have != "" {
			have = "is glibc " + m.Have
		}
	}
	return fmt.Sprintf("it needs %s but the root's %s %s (%s needed by %s)",
		what, m.File, have, strings.Join(m.Versions, ", "), by)
}

// versionHint is the fix for missing symbol versions: the hint, and the
// remedies the command line words (a self-contained bundle that carries
// the glibc a symbol needs).
func versionHint(in PreflightInput, vs []MissingVersion) (string, []failure.Remedy) {
	var h []string
	var fix []failure.Remedy
	for _, v := range vs {
		switch v.Family {
		case "GLIBC":
			have := v.Have
			if have == "" {
				have = "the root's"
			}
			h = append(h, fmt.Sprintf("use a bundle built on a distribution with glibc %s or older, "+
				"or base the image on a distribution with glibc >= %s", have, v.Need))
			// one GLIBC entry (missing merges them): a bundle that carries glibc v.Need
			fix = append(fix, failure.Remedy{Step: failure.PackSelfContained, Arg: v.Need})
		case "GLIBCXX", "CXXABI", "GCC":
			h = append(h, fmt.Sprintf("the root's %s is older than the bundle was built against: upgrade it in the image, "+
				"or use a bundle built on an older distribution, or one that ships %s in %s/lib", v.Library, v.Library, in.Prefix))
		default:
			h = append(h, fmt.Sprintf("%s in the root is not the version the bundle was built against: use a bundle built for this distribution or one that ships %s", v.Library, v.Library))
		}
	}
	return strings.Join(dedupStrings(h), "; "), fix
}

func dedupStrings(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// GlibcNeed returns the highest GLIBC_x.y symbol version ("2.38") any of
// the ELF files needs, and the files that need exactly that one; files
// that are not ELF are ignored. "" when none needs a GLIBC_ version (a
// musl or static build).
func GlibcNeed(files []string) (need string, by []string, err error) {
	for _, p := range files {
		v, err := fileGlibcNeed(p)
		if err != nil {
			return "", nil, err
		}
		switch c := rootfs.CompareVersions(v, need); {
		case v == "":
		case need == "" || c > 0:
			need, by = v, []string{p}
		case c == 0:
			by = append(by, p)
		}
	}
	return need, by, nil
}

// PayloadGlibcNeed is [GlibcNeed] over every regular file of a payload
// directory (commands, libraries, plugins); by is payload-relative.
func PayloadGlibcNeed(dir string) (need string, by []string, err error) {
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", nil, failure.New(failure.Verify, "read the payload %s: %w", dir, err)
	}
	need, by, err = GlibcNeed(files)
	for i, p := range by {
		if r, err := filepath.Rel(dir, p); err == nil {
			by[i] = filepath.ToSlash(r)
		}
	}
	return need, by, err
}

func fileGlibcNeed(p string) (string, error) {
	info, err := readELF(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	if info == nil {
		return "", nil
	}
	var all []string
	for _, vs := range info.verneed {
		all = append(all, vs...)
	}
	return rootfs.HighestVersion(all, "GLIBC"), nil
}
