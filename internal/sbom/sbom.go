// Package sbom writes the software bill of materials of a SLURM client
// payload: an SPDX 2.3 JSON document naming the client (its version and
// package URL), the libraries the payload carries, and every regular file
// with its SHA-1 and SHA-256. pack puts one in every bundle and beside the
// index; the installer writes one into every payload that lacks it, so an
// image scanner (Trivy's SBOM analyzer, Syft's sbom-cataloger) that reads
// *.spdx.json files sees the client an install put in the root.
//
// # Invariants
//
//   - The same payload and [Meta] give the same bytes: files are sorted, the
//     creation time is [Meta.Created] (the Unix epoch when zero, the same
//     fixed time pack gives tar entries), the namespace is derived from the
//     content. So a re-packed bundle stays byte-identical and a repair can
//     restore the installer's SBOM by generating it again.
//   - The document never lists itself ([FileName] at the payload's top is
//     skipped).
//   - It reads only regular files, through the [fs.FS] it is given, and
//     does no other I/O.
//
// SPDX 2.3 rather than CycloneDX 1.5: SPDX has per-file checksums and
// package-to-file relationships in its core, and both scanners named above
// read either; written with encoding/json (no dependency).
package sbom

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"
)

// FileName is the document's name at the top of a payload (so an install
// puts it at <prefix>/slurm-client.spdx.json). Scanners find SBOMs by the
// .spdx.json suffix.
const FileName = "slurm-client.spdx.json"

// Package names one software package: the client, or one a bundled
// library came from.
type Package struct {
	Name    string
	Version string // "" when unknown
	PURL    string // a package URL; "" when none is known
	// Files are payload paths (slash, relative to the payload) that came
	// from this package; for the client every file no library package
	// claims.
	Files []string
}

// Meta is what the files alone cannot tell.
type Meta struct {
	Client  Package   // the SLURM client; Files is ignored
	Arch    string    // the payload's arch (canonical spelling)
	Libs    []Package // packages the bundled libraries came from, when known
	Created time.Time // zero: the Unix epoch (reproducible)
	Tool    string    // the creator tool ("slurm-installer")
}

// GenericPURL is the package URL of a client whose origin is unknown.
func GenericPURL(name, version string) string {
	p := "pkg:generic/" + url.PathEscape(name)
	if version != "" {
		p += "@" + url.PathEscape(version)
	}
	return p
}

// DebPURL is the package URL of a Debian (or Ubuntu, ...) binary package:
// pkg:deb/debian/slurm-client@22.05.8-4%2Bdeb12u3?arch=amd64&distro=debian-12.
func DebPURL(distro, distroVersion, name, version, debArch string) string {
	p := "pkg:deb/" + url.PathEscape(strings.ToLower(distro)) + "/" + url.PathEscape(name)
	if version != "" {
		p += "@" + strings.ReplaceAll(url.PathEscape(version), "+", "%2B")
	}
	q := []string{}
	if debArch != "" {
		q = append(q, "arch="+url.QueryEscape(debArch))
	}
	if distroVersion != "" {
		q = append(q, "distro="+url.QueryEscape(strings.ToLower(distro)+"-"+distroVersion))
	}
	if len(q) > 0 {
		p += "?" + strings.Join(q, "&")
	}
	return p
}

type checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type externalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxPackage struct {
	ID               string        `json:"SPDXID"`
	Name             string        `json:"name"`
	Version          string        `json:"versionInfo,omitempty"`
	Supplier         string        `json:"supplier"`
	Download         string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	LicenseConcluded string        `json:"licenseConcluded"`
	LicenseDeclared  string        `json:"licenseDeclared"`
	Copyright        string        `json:"copyrightText"`
	Purpose          string        `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []externalRef `json:"externalRefs,omitempty"`
}

type spdxFile struct {
	ID               string     `json:"SPDXID"`
	Name             string     `json:"fileName"`
	Checksums        []checksum `json:"checksums"`
	LicenseConcluded string     `json:"licenseConcluded"`
	Copyright        string     `json:"copyrightText"`
}

type relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type document struct {
	Version      string `json:"spdxVersion"`
	DataLicense  string `json:"dataLicense"`
	ID           string `json:"SPDXID"`
	Name         string `json:"name"`
	Namespace    string `json:"documentNamespace"`
	CreationInfo struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	} `json:"creationInfo"`
	Packages      []spdxPackage  `json:"packages"`
	Files         []spdxFile     `json:"files"`
	Relationships []relationship `json:"relationships"`
}

// Generate hashes every regular file of the payload in fsys (its root is
// the payload's top) and returns the SPDX 2.3 JSON document.
func Generate(fsys fs.FS, m Meta) ([]byte, error) {
	type hashed struct{ rel, sha1, sha256 string }
	var files []hashed
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || p == FileName {
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h1, h256 := sha1.New(), sha256.New()
		if _, err := io.Copy(io.MultiWriter(h1, h256), f); err != nil {
			return fmt.Errorf("hash %s: %w", p, err)
		}
		files = append(files, hashed{p, hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h256.Sum(nil))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })

	var doc document
	doc.Version, doc.DataLicense, doc.ID = "SPDX-2.3", "CC0-1.0", "SPDXRef-DOCUMENT"
	client := m.Client
	if client.Name == "" {
		client.Name = "slurm-client"
	}
	if client.PURL == "" {
		client.PURL = GenericPURL(client.Name, client.Version)
	}
	doc.Name = client.Name
	if client.Version != "" {
		doc.Name += "-" + client.Version
	}
	if m.Arch != "" {
		doc.Name += "-" + m.Arch
	}
	created := m.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	doc.CreationInfo.Created = created.UTC().Format(time.RFC3339)
	doc.CreationInfo.Creators = []string{"Tool: " + orDefault(m.Tool, "slurm-installer")}

	pkg := func(id string, p Package, purpose string) spdxPackage {
		sp := spdxPackage{ID: id, Name: p.Name, Version: p.Version, Supplier: "NOASSERTION", Download: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", Copyright: "NOASSERTION", Purpose: purpose}
		if p.PURL != "" {
			sp.ExternalRefs = []externalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: p.PURL}}
		}
		return sp
	}
	clientID := "SPDXRef-Package-" + spdxID(client.Name)
	doc.Packages = append(doc.Packages, pkg(clientID, client, "APPLICATION"))
	doc.Relationships = append(doc.Relationships, relationship{"SPDXRef-DOCUMENT", "DESCRIBES", clientID})
	if m.Libs == nil {
		for _, f := range files {
			if isBundledLib(f.rel) {
				m.Libs = append(m.Libs, Package{Name: path.Base(f.rel), Files: []string{f.rel}})
			}
		}
	}
	owner := map[string]string{} // payload path -> package SPDXID
	for i, l := range m.Libs {
		id := fmt.Sprintf("SPDXRef-Package-%s-%d", spdxID(l.Name), i)
		doc.Packages = append(doc.Packages, pkg(id, l, "LIBRARY"))
		doc.Relationships = append(doc.Relationships, relationship{clientID, "DEPENDS_ON", id})
		for _, f := range l.Files {
			owner[path.Clean(f)] = id
		}
	}
	h := sha256.New()
	for i, f := range files {
		id := fmt.Sprintf("SPDXRef-File-%d", i)
		doc.Files = append(doc.Files, spdxFile{ID: id, Name: "./" + f.rel, LicenseConcluded: "NOASSERTION", Copyright: "NOASSERTION",
			Checksums: []checksum{{"SHA1", f.sha1}, {"SHA256", f.sha256}}})
		by := clientID
		if o, ok := owner[f.rel]; ok {
			by = o
		}
		doc.Relationships = append(doc.Relationships, relationship{by, "CONTAINS", id})
		fmt.Fprintf(h, "%s %s\n", f.sha256, f.rel)
	}
	fmt.Fprintf(h, "%s %s %s\n", client.Name, client.Version, client.PURL)
	doc.Namespace = "https://spdx.org/spdxdocs/" + url.PathEscape(doc.Name) + "-" + hex.EncodeToString(h.Sum(nil))[:32]
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // package URLs keep their '&' readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// isBundledLib reports whether the payload path rel is a shared library
// the bundle carries beside SLURM's own (lib/ or lib64/, not a plugin, not
// libslurm*): each becomes a package of its own when nothing better is
// known of where it came from.
func isBundledLib(rel string) bool {
	dir, base := path.Split(rel)
	return (dir == "lib/" || dir == "lib64/") && strings.Contains(base, ".so") && !strings.HasPrefix(base, "libslurm")
}

// spdxID keeps the letters, digits, '.' and '-' an SPDX identifier may hold.
func spdxID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
