package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"testing/fstest"
)

func payloadFS() fstest.MapFS {
	return fstest.MapFS{
		"bin/sinfo":               {Data: []byte("sinfo"), Mode: 0o755},
		"lib/libslurmfull.so":     {Data: []byte("full")},
		"lib/libhwloc.so.15.6.3":  {Data: []byte("hwloc")},
		"lib/libhwloc.so.15":      {Data: []byte("libhwloc.so.15.6.3"), Mode: 0o777 | 1<<27}, // a symlink
		"lib/slurm/auth_munge.so": {Data: []byte("plugin")},
		"VERSION":                 {Data: []byte("22.05.8\n")},
		FileName:                  {Data: []byte("an older one: never listed")},
	}
}

type parsed struct {
	SPDXVersion string `json:"spdxVersion"`
	Packages    []struct {
		ID           string `json:"SPDXID"`
		Name         string `json:"name"`
		Version      string `json:"versionInfo"`
		ExternalRefs []struct {
			Type    string `json:"referenceType"`
			Locator string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
	Files []struct {
		Name      string `json:"fileName"`
		Checksums []struct {
			Algorithm string `json:"algorithm"`
			Value     string `json:"checksumValue"`
		} `json:"checksums"`
	} `json:"files"`
	Relationships []struct {
		Element, Type, Related string
	} `json:"relationships"`
}

func TestGenerateListsClientLibsAndFiles(t *testing.T) {
	purl := DebPURL("debian", "12", "slurm-client", "22.05.8-4+deb12u3", "amd64")
	if want := "pkg:deb/debian/slurm-client@22.05.8-4%2Bdeb12u3?arch=amd64&distro=debian-12"; purl != want {
		t.Fatalf("purl %s, want %s", purl, want)
	}
	b, err := Generate(payloadFS(), Meta{Client: Package{Name: "slurm-client", Version: "22.05.8-4+deb12u3", PURL: purl}, Arch: "x86_64",
		Libs: []Package{{Name: "libhwloc15", Version: "2.9.0-1", PURL: DebPURL("debian", "12", "libhwloc15", "2.9.0-1", "amd64"), Files: []string{"lib/libhwloc.so.15.6.3"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"referenceLocator": "`+purl+`"`)) {
		t.Errorf("the package URL is not written as it is (HTML-escaped?)")
	}
	var d parsed
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.SPDXVersion != "SPDX-2.3" || len(d.Packages) != 2 || d.Packages[0].Name != "slurm-client" ||
		d.Packages[0].Version != "22.05.8-4+deb12u3" || d.Packages[0].ExternalRefs[0].Locator != purl ||
		d.Packages[1].Name != "libhwloc15" {
		t.Fatalf("packages %+v", d.Packages)
	}
	names := map[string]string{}
	for _, f := range d.Files {
		for _, c := range f.Checksums {
			if c.Algorithm == "SHA256" {
				names[f.Name] = c.Value
			}
		}
	}
	sum := sha256.Sum256([]byte("sinfo"))
	if names["./bin/sinfo"] != hex.EncodeToString(sum[:]) {
		t.Errorf("sinfo's sha256 %q", names["./bin/sinfo"])
	}
	if _, ok := names["./"+FileName]; ok {
		t.Error("the document lists itself")
	}
	if _, ok := names["./lib/libhwloc.so.15"]; ok || len(names) != 5 {
		t.Errorf("files %v: want the 5 regular files, not the link", names)
	}
	// Same input, same bytes (a repair regenerates it; a re-pack is identical).
	b2, _ := Generate(payloadFS(), Meta{Client: Package{Name: "slurm-client", Version: "22.05.8-4+deb12u3", PURL: purl}, Arch: "x86_64",
		Libs: []Package{{Name: "libhwloc15", Version: "2.9.0-1", PURL: DebPURL("debian", "12", "libhwloc15", "2.9.0-1", "amd64"), Files: []string{"lib/libhwloc.so.15.6.3"}}}})
	if !bytes.Equal(b, b2) {
		t.Error("same input gave different documents")
	}
}

func TestGenerateWithoutOrigin(t *testing.T) {
	b, err := Generate(payloadFS(), Meta{Client: Package{Version: "22.05.8"}})
	if err != nil {
		t.Fatal(err)
	}
	var d parsed
	json.Unmarshal(b, &d)
	if d.Packages[0].ExternalRefs[0].Locator != "pkg:generic/slurm-client@22.05.8" {
		t.Errorf("purl %+v", d.Packages[0].ExternalRefs)
	}
	// The bundled library is a package of its own, named by its file.
	if len(d.Packages) != 2 || d.Packages[1].Name != "libhwloc.so.15.6.3" {
		t.Errorf("packages %+v", d.Packages)
	}
}
