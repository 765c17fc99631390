package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/trust"
)

// published is what an AppHub already holds for one version and arch: the
// index's entry and the versioned tarball's own hash ("" when absent).
type published struct {
	indexSHA string // the index entry's sha256, "" when the index has none
	fileSHA  string // the sha256 of slurm-apk/<name> as it is on disk, "" when absent
}

// lookPublished reads what out already publishes under name for version
// and arch in format. An unreadable index is left to updateIndex, which says so.
func lookPublished(out, name, version, arch string, format bundle.Compression) (published, error) {
	var p published
	if data, err := os.ReadFile(filepath.Join(out, "pkgs", "slurm", "index.json")); err == nil {
		if idx, err := index.Parse(data); err == nil {
			if b := idx.Find(version, arch); b != nil {
				for _, c := range idx.Bundles { // Find prefers zstd: the entry of this format
					if c.Version == b.Version && c.Arch == b.Arch && c.Format() == format {
						p.indexSHA = c.SHA256
					}
				}
			}
		}
	}
	f, err := os.Open(filepath.Join(out, "pkgs", "slurm-apk", name))
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, failure.New(failure.FileSystem, "read the published %s: %w", name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return p, failure.New(failure.FileSystem, "the published %s is not a regular file", f.Name())
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return p, failure.New(failure.FileSystem, "read the published %s: %w", f.Name(), err)
	}
	p.fileSHA = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

// same reports whether the AppHub already publishes exactly sum: its index
// names it and the tarball on disk hashes to it. Packing again is then a
// no-op.
func (p published) same(sum string) bool {
	return p.indexSHA == sum && p.fileSHA == sum
}

// conflict is the published digest that differs from sum ("" when none
// does): installers may have pinned it, so it is replaced only on request.
func (p published) conflict(sum string) string {
	switch {
	case p.indexSHA != "" && p.indexSHA != sum:
		return p.indexSHA
	case p.fileSHA != "" && p.fileSHA != sum:
		return p.fileSHA
	}
	return ""
}

// signedAsAsked reports whether packing the same bytes again can be a
// no-op as far as the signature goes: only for an unsigned run over an
// unsigned index. A signed run re-signs (the documented way to renew an
// index before it expires: its serial and expiry move on), and an unsigned
// run over a signed index removes the signature that no longer matches.
func signedAsAsked(o Options) bool {
	_, err := os.Lstat(filepath.Join(o.Out, "pkgs", "slurm", "index.json"+trust.SignatureSuffix))
	return o.Signer == nil && err != nil
}
