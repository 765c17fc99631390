package oci

import (
	"debug/elf"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// GlibcNeed returns the highest GLIBC_x.y symbol version any ELF file under
// dir needs ("GLIBC_2.34"), or "" when none needs one (musl, static, or no
// ELFs). Unreadable or non-ELF files are skipped: it is a hint for the
// artifact config, not a check.
func GlibcNeed(dir string) string {
	best := ""
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		f, err := elf.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		syms, err := f.ImportedSymbols()
		if err != nil {
			return nil
		}
		for _, s := range syms {
			if v := s.Version; strings.HasPrefix(v, "GLIBC_") && newerGlibc(v, best) {
				best = v
			}
		}
		return nil
	})
	return best
}

func newerGlibc(a, b string) bool {
	if b == "" {
		return glibcNum(a) != nil
	}
	x, y := glibcNum(a), glibcNum(b)
	if x == nil {
		return false
	}
	for i := range max(len(x), len(y)) {
		var p, q int
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if p != q {
			return p > q
		}
	}
	return false
}

func glibcNum(v string) []int {
	var out []int
	for _, p := range strings.Split(strings.TrimPrefix(v, "GLIBC_"), ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}
