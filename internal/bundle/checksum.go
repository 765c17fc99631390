package bundle

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// MaxSidecar caps a .sha256 sidecar the parsers accept; a SHA256SUMS file
// may be 16 times that.
const MaxSidecar = 1 << 20

// MaxSums caps a SHA256SUMS file.
const MaxSums = 16 * MaxSidecar

// ParseSidecar reads a <artifact>.sha256 file: a bare hex digest, a
// sha256sum line ("<hex>  name" or "<hex> *name") or a BSD line
// ("SHA256 (name) = <hex>"). When the file has several lines it must have
// one for name; a single line is accepted whatever name it gives (a
// "latest" symlink's sidecar names the versioned file).
func ParseSidecar(data []byte, name string) (Digest, error) {
	if len(data) > MaxSidecar {
		return "", errors.New("checksum file too large")
	}
	type line struct {
		digest Digest
		name   string
	}
	var lines []line
	for i, raw := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(strings.TrimPrefix(raw, "\ufeff"))
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		d, n, ok := parseSumLine(l)
		if !ok {
			return "", fmt.Errorf("line %d is not a SHA-256 checksum: %q", i+1, truncate(l, 80))
		}
		lines = append(lines, line{d, n})
	}
	switch {
	case len(lines) == 0:
		return "", errors.New("no checksum in the file")
	case len(lines) == 1:
		return lines[0].digest, nil
	}
	var digest Digest
	for _, l := range lines {
		if l.name == name || path.Base(l.name) == name {
			if digest != "" && digest != l.digest {
				return "", fmt.Errorf("conflicting checksums for %s", name)
			}
			digest = l.digest
		}
	}
	if digest == "" {
		return "", fmt.Errorf("no checksum for %s among %d lines", name, len(lines))
	}
	return digest, nil
}

// FormatSidecar is the sidecar [ParseSidecar] reads back: one sha256sum
// line for name.
func FormatSidecar(d Digest, name string) []byte {
	return []byte(string(d) + "  " + name + "\n")
}

// ParseSums reads a sha256sum-format file ("<hex>  name", with "*" for
// binary mode; blank lines and # comments ignored) into name → digest.
// Names keep their relative paths ("bin/sinfo"), with a leading "./"
// dropped. Any other line, or one name with two different digests, is an
// error.
func ParseSums(data []byte) (map[string]Digest, error) {
	if len(data) > MaxSums {
		return nil, errors.New("SHA256SUMS too large")
	}
	out := map[string]Digest{}
	for i, raw := range strings.Split(string(data), "\n") {
		l := strings.TrimRight(strings.TrimPrefix(raw, "\ufeff"), "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		d, n, ok := parseSumLine(strings.TrimLeft(l, " \t"))
		if !ok || n == "" {
			return nil, fmt.Errorf("line %d is not a sha256sum line: %q", i+1, truncate(l, 80))
		}
		if old, dup := out[n]; dup && old != d {
			return nil, fmt.Errorf("line %d: %s listed twice with different checksums", i+1, n)
		}
		out[n] = d
	}
	if len(out) == 0 {
		return nil, errors.New("no checksums in the file")
	}
	return out, nil
}

// FormatSums is the SHA256SUMS file [ParseSums] reads back: one
// "<hex>  name" line per name, sorted by name.
func FormatSums(sums map[string]Digest) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		mark := "  "
		if strings.HasPrefix(n, "*") {
			mark = " *" // binary mode, so the name's own "*" is kept
		}
		b.WriteString(string(sums[n]) + mark + n + "\n")
	}
	return []byte(b.String())
}

// parseSumLine parses "<hex>", "<hex>  name", "<hex> *name" or
// "SHA256 (name) = <hex>".
func parseSumLine(l string) (digest Digest, name string, ok bool) {
	if rest, found := strings.CutPrefix(l, "SHA256 ("); found {
		i := strings.LastIndex(rest, ") = ")
		if i < 0 {
			return "", "", false
		}
		d := strings.TrimSpace(rest[i+4:])
		if !IsHex64(d) {
			return "", "", false
		}
		return cleanSumName(Digest(strings.ToLower(d)), rest[:i])
	}
	if len(l) < 64 || !IsHex64(l[:64]) {
		return "", "", false
	}
	d, rest := Digest(strings.ToLower(l[:64])), l[64:]
	if rest == "" {
		return d, "", true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", "", false
	}
	rest = strings.TrimLeft(rest, " \t")
	return cleanSumName(d, strings.TrimPrefix(rest, "*"))
}

// cleanSumName applies the same name rules to both line forms: leading
// "./" are dropped; an empty name or one with a NUL is not a valid line.
func cleanSumName(d Digest, name string) (Digest, string, bool) {
	for strings.HasPrefix(name, "./") {
		name = strings.TrimPrefix(name, "./")
	}
	if name == "" || strings.ContainsRune(name, 0) {
		return "", "", false
	}
	return d, name, true
}
