package bundle

import (
	"fmt"
	"strings"
)

// Digest is a SHA-256 digest: 64 lower-case hex digits, with no algorithm
// prefix. The zero value is "no digest".
type Digest string

// ParseDigest reads a SHA-256 digest the ways the installer meets one: 64
// hex digits in either case, or a registry's "sha256:<hex>"; surrounding
// space is dropped. The result is lower case.
func ParseDigest(s string) (Digest, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "sha256:")
	if !IsHex64(t) {
		return "", fmt.Errorf("%q is not a SHA-256 digest (64 hex digits)", truncate(s, 80))
	}
	return Digest(strings.ToLower(t)), nil
}

// IsHex64 reports whether s is exactly 64 hex digits (either case).
func IsHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Valid reports whether d is a digest in the canonical form: 64 lower-case
// hex digits.
func (d Digest) Valid() bool { return IsHex64(string(d)) && strings.ToLower(string(d)) == string(d) }

// String is the hex digest.
func (d Digest) String() string { return string(d) }

// OCI is the digest the way a registry names it: "sha256:<hex>".
func (d Digest) OCI() string { return "sha256:" + string(d) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
