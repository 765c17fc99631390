// Package index is the schema of pkgs/slurm/index.json: the contract
// between package pack, which writes it, and the installer's
// fetch, which reads it. It parses and checks an index (every bundle entry
// validated: version, arch, URL, digest, size, prefix, glibc need, series)
// and finds a bundle in it; it does no I/O.
package index

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/platform"
)

// Schema is the only index.json schema this version understands.
const Schema = 1

// Index is pkgs/slurm/index.json, written by package pack and
// read by fetch: the contract between the two.
//
//	{"schema":1,"created":"2026-11-23T07:00:00Z","expires":"2027-05-22T07:00:00Z","serial":1,
//	 "latest":{"x86_64":"22.05.8"},
//	 "bundles":[{"version":"22.05.8","arch":"x86_64",
//	   "url":"../slurm-apk/slurm-client-22.05.8-x86_64-alpine.tar.gz",
//	   "sha256":"<hex>","size":5800000,"self_contained":false}]}
type Index struct {
	Schema  int               `json:"schema"`
	Created time.Time         `json:"created"`
	Expires time.Time         `json:"expires,omitzero"`
	Serial  int64             `json:"serial"`
	Latest  map[string]string `json:"latest,omitempty"` // arch → version
	Bundles []Bundle          `json:"bundles"`
}

// Bundle is one downloadable bundle in the index.
type Bundle struct {
	Version       string `json:"version"`
	Arch          string `json:"arch"`
	URL           string `json:"url"`    // relative to index.json's URL, or absolute http(s)
	SHA256        string `json:"sha256"` // hex digest of the file at URL
	Size          int64  `json:"size"`   // its size in bytes; caps the download
	SelfContained bool   `json:"self_contained"`
	Prefix        string `json:"prefix,omitempty"` // the install prefix a self-contained bundle was packed for
	// Glibc is the highest GLIBC_x.y symbol version the payload's ELFs need
	// ("2.38"; "" for musl or static builds): the root's glibc must be at
	// least this, unless SelfContained (the bundle carries a glibc that is).
	Glibc  string `json:"glibc,omitempty"`
	Series string `json:"series,omitempty"` // the SLURM major release, "22.05"
	// Compression is the bundle's format: "zstd" for a .tar.zst, "" (or
	// "gzip") for a .tar.gz, as every index before it was written. An
	// index may list the same version and arch once per format; the
	// installer takes zstd (see Find), an older one the first entry, which
	// pack keeps the gzip one.
	Compression bundle.Compression `json:"compression,omitempty"`
	// SBOM is the bundle's SPDX document beside index.json (a name, no
	// directory); the bundle carries the same document at its top.
	SBOM string `json:"sbom,omitempty"`
	// Origin says where the files came from, when pack took them from a
	// root where SLURM was installed the distro's way; nil otherwise.
	Origin *Origin `json:"origin,omitempty"`
}

// Compression formats a bundle comes in (the contract's values: bundle.Compression).
const (
	Gzip = bundle.Gzip
	Zstd = bundle.Zstd
)

// Format is the bundle's compression format, Gzip when the index says none.
func (b Bundle) Format() bundle.Compression {
	if b.Compression == "" {
		return Gzip
	}
	return b.Compression
}

// Origin is the distro and packages a bundle's files came from.
//
//	"origin":{"distro":"debian","distro_version":"12","database":"dpkg",
//	  "packages":[{"name":"slurm-client","version":"22.05.8-4+deb12u3","arch":"amd64",
//	    "purl":"pkg:deb/debian/slurm-client@22.05.8-4%2Bdeb12u3?arch=amd64&distro=debian-12","client":true}, ...]}
type Origin struct {
	Distro        string `json:"distro"`                   // os-release ID: "debian", "ubuntu"
	DistroVersion string `json:"distro_version,omitempty"` // os-release VERSION_ID: "12"
	// Database is the package database the versions were read from
	// ("dpkg"), "" when the files were found without one.
	Database string          `json:"database,omitempty"`
	Packages []OriginPackage `json:"packages,omitempty"`
}

// OriginPackage is one distro package files of the bundle came from.
type OriginPackage struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch,omitempty"`
	PURL    string `json:"purl,omitempty"`
	Client  bool   `json:"client,omitempty"` // the SLURM client's own package
	// Files are the payload paths (relative, slash) taken from the package;
	// pack's SBOM uses them, the index does not carry them.
	Files []string `json:"-"`
}

func (o *Origin) check() error {
	if o.Distro == "" || len(o.Distro) > 64 || strings.ContainsAny(o.Distro, "/ \t\n") {
		return fmt.Errorf("origin distro %q is not a distro ID", o.Distro)
	}
	for _, p := range o.Packages {
		if p.Name == "" || len(p.Name) > 128 || strings.ContainsAny(p.Name, "/ \t\n") {
			return fmt.Errorf("origin package %q is not a package name", p.Name)
		}
		if p.PURL != "" && !strings.HasPrefix(p.PURL, "pkg:") {
			return fmt.Errorf("origin package %s: %q is not a package URL", p.Name, p.PURL)
		}
	}
	return nil
}

// Parse parses and checks an index.json: the schema must be
// Schema, and every bundle needs a version, a known arch, a relative
// or http(s) URL, a 64-hex sha256 and a positive size.
func Parse(data []byte) (*Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index is not valid JSON: %w", err)
	}
	if idx.Schema != Schema {
		return nil, fmt.Errorf("index schema %d is not supported (want %d); upgrade slurm-installer", idx.Schema, Schema)
	}
	for arch, v := range idx.Latest {
		if _, err := platform.Normalize(arch); err != nil {
			return nil, fmt.Errorf("index latest: %w", err)
		}
		if !ValidVersion(v) {
			return nil, fmt.Errorf("index latest[%s]: bad version %q", arch, v)
		}
	}
	for i, b := range idx.Bundles {
		if err := check(b); err != nil {
			return nil, fmt.Errorf("index bundle %d: %w", i, err)
		}
		d, _ := bundle.ParseDigest(b.SHA256) // check accepted it
		idx.Bundles[i].SHA256 = string(d)    // one form: lower case, as every digest the installer computes
	}
	return &idx, nil
}

// check checks one bundle entry.
func check(b Bundle) error {
	if !ValidVersion(b.Version) || b.Version == "latest" {
		return fmt.Errorf("bad version %q", b.Version)
	}
	if _, err := platform.Normalize(b.Arch); err != nil {
		return err
	}
	if !bundle.IsHex64(b.SHA256) {
		return fmt.Errorf("sha256 %q is not 64 hex digits", b.SHA256)
	}
	if b.Size <= 0 {
		return fmt.Errorf("size %d is not positive", b.Size)
	}
	if b.Prefix != "" && (!strings.HasPrefix(b.Prefix, "/") || path.Clean(b.Prefix) != b.Prefix || b.Prefix == "/") {
		return fmt.Errorf("prefix %q must be a clean absolute path", b.Prefix)
	}
	if b.Glibc != "" && !dottedNumber(b.Glibc) {
		return fmt.Errorf("glibc %q is not a version like 2.38", b.Glibc)
	}
	if b.Series != "" && (!dottedNumber(b.Series) || !strings.HasPrefix(b.Version, b.Series+".")) {
		return fmt.Errorf("series %q is not the major release of version %q", b.Series, b.Version)
	}
	switch b.Compression {
	case "", Gzip, Zstd:
	default:
		return fmt.Errorf("compression %q is not gzip or zstd", b.Compression)
	}
	if b.SBOM != "" && (strings.ContainsAny(b.SBOM, "/\\\x00") || !strings.HasSuffix(b.SBOM, ".spdx.json")) {
		return fmt.Errorf("sbom %q must be a file name ending in .spdx.json", b.SBOM)
	}
	if b.Origin != nil {
		if err := b.Origin.check(); err != nil {
			return err
		}
	}
	if b.URL == "" || strings.ContainsAny(b.URL, "\x00\\") {
		return fmt.Errorf("bad url %q", b.URL)
	}
	u, err := url.Parse(b.URL)
	if err != nil {
		return fmt.Errorf("bad url %q: %w", b.URL, err)
	}
	switch {
	case u.Scheme == "" && u.Host == "" && u.Path != "":
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
	default:
		return fmt.Errorf("url %q must be relative or http(s)", b.URL)
	}
	// The name carries the format to the extractor: they must agree.
	if zst := strings.HasSuffix(strings.ToLower(u.Path), ".tar.zst"); zst != (b.Format() == Zstd) {
		return fmt.Errorf("url %q does not name a %s bundle (compression %q)", b.URL, b.Format(), b.Compression)
	}
	return nil
}

// dottedNumber reports whether s is digits separated by single dots.
func dottedNumber(s string) bool {
	for _, p := range strings.Split(s, ".") {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// LatestFor is the index's latest version for arch (any spelling), "" if
// none.
func (idx *Index) LatestFor(arch string) string {
	arch, err := platform.Normalize(arch)
	if err != nil {
		return ""
	}
	for a, v := range idx.Latest {
		if na, _ := platform.Normalize(a); na == arch {
			return v
		}
	}
	return ""
}

// Find returns the bundle for version ("latest" → Latest[arch]) and arch
// (any spelling), or nil. When the index lists it in both formats, the
// zstd one is returned (smaller, and faster to unpack).
func (idx *Index) Find(version, arch string) *Bundle {
	arch, err := platform.Normalize(arch)
	if err != nil {
		return nil
	}
	if version == "latest" || version == "" {
		version = ""
		for a, v := range idx.Latest {
			if na, _ := platform.Normalize(a); na == arch {
				version = v
				break
			}
		}
		if version == "" {
			return nil
		}
	}
	var found *Bundle
	for i, b := range idx.Bundles {
		if na, _ := platform.Normalize(b.Arch); na == arch && b.Version == version {
			if found == nil || Preferred(b, *found) {
				found = &idx.Bundles[i]
			}
		}
	}
	return found
}

// Preferred reports whether a is to be taken over b, the same bundle in
// another format: zstd over gzip.
func Preferred(a, b Bundle) bool {
	return a.Format() == Zstd && b.Format() != Zstd
}

// ValidVersion reports whether v is a version as bundles name it (digits, letters, . - _ +).
func ValidVersion(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '_' || c == '+') {
			return false
		}
	}
	return true
}
