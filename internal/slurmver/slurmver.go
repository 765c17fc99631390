// Package slurmver parses and compares SLURM versions and the selectors
// --slurm-version takes (docs/DESIGN.md §9): an exact version ("22.05.8"), a
// series ("22.05", the newest 22.05.x), "latest", or "cluster" (the newest
// the site's controller accepts).
//
// Versions compare numerically per dotted component (22.05.10 > 22.05.8);
// missing components count as 0 (23.02 == 23.02.0); a component that is
// not a number compares as text after numbers.
package slurmver

import (
	"strconv"
	"strings"
)

// Kind is what a --slurm-version selector asks for.
type Kind int

// The selector kinds.
const (
	Exact   Kind = iota // one version: "22.05.8", "24.11.5-1"
	Series              // the newest of a major release: "22.05"
	Latest              // the newest there is: "latest" or ""
	Cluster             // the newest the site's controller accepts: "cluster"
)

func (k Kind) String() string {
	return [...]string{"exact", "series", "latest", "cluster"}[k]
}

// KindOf tells what a selector asks for. A series is exactly two numeric
// components (YY.MM, SLURM's major release); anything else that is not
// "latest", "" or "cluster" is an exact version.
func KindOf(sel string) Kind {
	switch strings.TrimSpace(sel) {
	case "", "latest":
		return Latest
	case "cluster":
		return Cluster
	}
	if isSeries(sel) {
		return Series
	}
	return Exact
}

// isSeries reports whether sel is a series: two numeric components, "22.05".
func isSeries(sel string) bool {
	a, b, ok := strings.Cut(sel, ".")
	return ok && numeric(a) && numeric(b)
}

// SeriesOf returns the major release of a version: "24.11.5" → "24.11",
// "22.05.8-1" → "22.05"; "" when it has no two numeric components.
func SeriesOf(version string) string {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	minor := parts[1]
	if i := strings.IndexAny(minor, "-_+"); i >= 0 {
		minor = minor[:i]
	}
	if !numeric(parts[0]) || !numeric(minor) {
		return ""
	}
	return parts[0] + "." + minor
}

// Matches reports whether version satisfies the selector: any version for
// latest and cluster (the caller narrows those further), the versions of
// its major release for a series (22.05 matches 22.05.8 and 22.05.10, not
// 22.050.1), and only itself for an exact version.
func Matches(sel, version string) bool {
	switch KindOf(sel) {
	case Latest, Cluster:
		return true
	case Series:
		s := SeriesOf(version)
		return s != "" && Compare(s, strings.TrimSpace(sel)) == 0
	}
	return strings.TrimSpace(sel) == version
}

// Compare compares dotted versions numerically and returns -1, 0 or 1
// (22.05.8 < 22.05.10 < 23.02.1). Separators are '.', '-', '_' and '+'.
func Compare(a, b string) int {
	as, bs := split(a), split(b)
	for i := range max(len(as), len(bs)) {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// Numeric reports whether v is digits separated by dots, e.g. 23.02.1.
func Numeric(v string) bool {
	if v == "" {
		return false
	}
	for _, p := range strings.Split(v, ".") {
		if !numeric(p) {
			return false
		}
	}
	return true
}

func numeric(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func split(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '-' || r == '_' || r == '+' })
}

func comparePart(x, y string) int {
	nx, ex := strconv.ParseUint(x, 10, 64)
	ny, ey := strconv.ParseUint(y, 10, 64)
	switch {
	case ex == nil && ey == nil:
		switch {
		case nx < ny:
			return -1
		case nx > ny:
			return 1
		}
		return 0
	case ex == nil:
		return -1
	case ey == nil:
		return 1
	}
	return strings.Compare(x, y)
}

// FromFile reads the version out of a bundle's VERSION file, the one
// parser for it (install, pack and the tree layout agree): the first line
// that is not blank or a # comment, either `version=V` (quotes allowed) or
// words whose last is the version ("22.05.8", "slurm 22.05.8",
// "slurm-wlm 24.11.5"). Key=value lines after it (self_contained=…) are
// metadata. "" when the file holds none.
func FromFile(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			if strings.EqualFold(strings.TrimSpace(k), "version") {
				return strings.Trim(strings.TrimSpace(v), `"'`)
			}
			return "" // metadata before any version
		}
		f := strings.Fields(l)
		return f[len(f)-1]
	}
	return ""
}
