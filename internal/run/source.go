package run

// Local bundles: --from FILE, checked against --sha256 or a sidecar beside it.
import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/safeio"
)

// fromFile turns --from FILE into an artifact, checking --sha256 or a
// FILE.sha256 sidecar when there is one.
func fromFile(from, pinned string, log zerolog.Logger) (*fetch.Artifact, error) {
	p, err := filepath.Abs(from)
	if err != nil {
		return nil, failure.New(failure.Usage, "--from %q: %w", from, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, failure.New(failure.Usage, "--from %s: %w", from, err)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		// A FIFO or a device would hang or never end (issue 13).
		return nil, failure.New(failure.Usage, "--from %s: not a regular file or directory", from)
	}
	art := &fetch.Artifact{Path: p, Name: filepath.Base(p), URL: "file://" + p, Mirror: "--from", Layout: bundle.LayoutFile, Size: fi.Size(),
		Verification: fetch.VerifiedNone}
	if fi.IsDir() {
		art.Tree, art.ChecksumSource = true, "none (local directory)"
		log.Warn().Str("from", p).Msg("installing a local directory: it is not checksummed")
		return art, nil
	}
	got, err := hashFile(p)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "read %s: %w", p, err)
	}
	art.SHA256 = got
	want, source, how := pinned, "pinned digest", fetch.VerifiedPinned
	if want == "" {
		how = fetch.VerifiedSidecar
		if b, err := safeio.ReadFile(p+".sha256", bundle.MaxSidecar); err == nil {
			d, err := bundle.ParseSidecar(b, filepath.Base(p))
			if err != nil {
				return nil, failure.New(failure.Integrity, "%s.sha256: %w", p, err)
			}
			want = string(d)
			source = "sidecar " + p + ".sha256"
		}
	}
	if want == "" {
		art.ChecksumSource = "none published"
		log.Warn().Str("from", p).Msg("no checksum for the local bundle (no --sha256, no .sha256 beside it); installing it unverified")
		return art, nil
	}
	if want != got {
		return nil, failure.New(failure.Integrity, "checksum mismatch for %s: expected %s (%s), got %s", p, want, source, got).
			WithHint("the file is corrupt or not the bundle you meant; fetch it again")
	}
	art.ChecksumSource, art.Verification = source, how
	log.Info().Str("from", p).Str("checksum", source).Msg("local bundle verified")
	return art, nil
}

func hashFile(p string) (string, error) {
	f, _, err := safeio.Open(p) // regular files only: the type may change after a Stat
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
