package pack

import (
	"os"
	"sort"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/sbom"
)

// bundleSBOM is the SPDX document of the payload in dir (issue 27): the
// client with the package URL of its recorded origin (a generic one when
// the payload came from a directory of unknown origin), the packages its
// libraries came from, and every file's hashes. Its creation time is the
// tar entries' fixed epoch, so the bundle stays reproducible.
func bundleSBOM(dir string, o Options, arch string) ([]byte, error) {
	m := sbom.Meta{Client: sbom.Package{Name: "slurm-client", Version: o.Version}, Arch: arch, Tool: "slurm-installer"}
	if org := o.Origin; org != nil {
		for _, p := range org.Packages {
			sp := sbom.Package{Name: p.Name, Version: p.Version, PURL: p.PURL, Files: p.Files}
			if p.Client {
				m.Client = sp
				continue
			}
			m.Libs = append(m.Libs, sp)
		}
		if m.Libs == nil {
			m.Libs = []sbom.Package{} // the origin knows: no library package
		}
	}
	doc, err := sbom.Generate(os.DirFS(dir), m)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "write the bundle's SBOM: %w", err)
	}
	return doc, nil
}

// sbomName is the SBOM pack writes beside index.json for one bundle.
func sbomName(version, arch string) string {
	return "slurm-client-" + version + "-" + arch + ".spdx.json"
}

// withSBOM puts doc at the payload's top as [sbom.FileName], in place of
// one the payload brought.
func (fl fileList) withSBOM(doc []byte) fileList {
	out := fileList{}
	for _, f := range fl {
		if f.rel != sbom.FileName {
			out = append(out, f)
		}
	}
	out = append(out, file{rel: sbom.FileName, mode: 0o644, data: doc})
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}
