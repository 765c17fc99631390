package install

import (
	"io/fs"
	"path"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/sbom"
)

// ensureSBOM gives every install an SBOM (issue 27): a staged payload
// without [sbom.FileName] at its top (a bundle not made by pack, the tree
// layout) gets one generated from its files, so an install puts
// <prefix>/slurm-client.spdx.json in the root for image scanners. It is a
// payload file like any other: in the receipt with its hash, checked by a
// deep verify, removed with the payload. Generated from the same bundle it
// is the same bytes (sbom's invariant), so a repair restores it.
func (in *Installer) ensureSBOM(st *Staged) error {
	for _, e := range st.Files {
		if e.Path == sbom.FileName {
			return nil // pack's, with the origin's package URLs
		}
	}
	sub, err := fs.Sub(in.root.FS(), rel(st.PayloadRel))
	if err != nil {
		return failure.Wrap(failure.Internal, err)
	}
	doc, err := sbom.Generate(sub, sbom.Meta{Client: sbom.Package{Name: "slurm-client", Version: st.Version}, Arch: in.opt.Arch, Tool: "slurm-installer"})
	if err != nil {
		return fsErr("write the SBOM in", st.PayloadRel, err)
	}
	p := path.Join(st.PayloadRel, sbom.FileName)
	if err := in.writeFileAtomic(p, doc, 0o644); err != nil {
		return err
	}
	st.Files = append(st.Files, Entry{Path: sbom.FileName, Type: "file", Mode: 0o644, Size: int64(len(doc)), SHA256: sum(doc)})
	return nil
}
