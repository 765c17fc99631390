package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
)

// Config is the artifact's config blob: what `pack` knows about the bundle.
type Config struct {
	Schema        int       `json:"schema"` // 1
	Version       string    `json:"version"`
	Arch          string    `json:"arch"`                 // canonical: x86_64 | aarch64
	GlibcNeed     string    `json:"glibc_need,omitempty"` // highest GLIBC_x.y the ELFs need, "" if unknown or none
	SelfContained bool      `json:"self_contained"`
	Prefix        string    `json:"prefix,omitempty"` // the install prefix a self-contained bundle was packed for
	Created       time.Time `json:"created,omitzero"`
	// Origin is the distro and packages the files came from (pack
	// --from-root), as index.json records it; nil otherwise.
	Origin *index.Origin `json:"origin,omitempty"`
}

// maxConfig caps the config blob download.
const maxConfig = 64 << 10

// PushOptions says what to push where.
type PushOptions struct {
	Ref     string // oci://HOST/REPO
	Tarball string // the bundle file (as pack writes it); a .tar.zst is pushed as a zstd layer
	Config  Config
	Latest  bool // also move latest-<arch> to it
	// Replace pushes over a version tag that holds a bundle with other
	// bytes; without it that is refused (installers may have pinned the
	// published digest), as pack refuses it for an AppHub directory.
	Replace bool
	// SBOM is the bundle's SPDX document, pushed as a referrer of the
	// bundle's manifest; nil: none.
	SBOM   []byte
	Client ClientOptions
	Log    zerolog.Logger
}

// PushResult says what was pushed.
type PushResult struct {
	Mirror   string   // oci://HOST/REPO
	Manifest string   // manifest digest, sha256:...
	SHA256   string   // hex digest of the bundle (= the layer digest)
	Size     int64    // bundle bytes
	Tags     []string // tags set, versioned first
	SBOM     string   // the SBOM referrer's manifest digest, "" when none was pushed
}

// versionTag returns the tag of version and canonical arch: "22.05.8-x86_64".
func versionTag(version, arch string) string { return version + "-" + arch }

// latestTag returns the moving tag of a canonical arch: "latest-x86_64".
func latestTag(arch string) string { return "latest-" + arch }

// Push uploads the bundle as one layer, its config, the manifest, and tags
// it. Blobs the registry already has are not uploaded again.
func Push(ctx context.Context, o PushOptions) (*PushResult, error) {
	r, err := ParseRef(o.Ref)
	if err != nil {
		return nil, err
	}
	arch, err := platform.Normalize(o.Config.Arch)
	if err != nil {
		return nil, failure.New(failure.Usage, "the bundle's arch: %w", err)
	}
	cfg := o.Config
	cfg.Arch, cfg.Schema = arch, 1
	if cfg.Version == "" || cfg.Version == "latest" || !validTagPart(cfg.Version) {
		return nil, failure.New(failure.Usage, "the bundle's version %q cannot be a registry tag (letters, digits, . _ -; at most 100)", cfg.Version)
	}
	repo, hc, err := repository(r, o.Client)
	if err != nil {
		return nil, err
	}
	defer closeIdle(hc)

	f, err := os.Open(o.Tarball)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "open bundle: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "read bundle: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	mt, suffix := LayerMediaType, ".tar.gz"
	if strings.HasSuffix(o.Tarball, ".tar.zst") {
		mt, suffix = ZstdLayerMediaType, ".tar.zst"
	}
	layer := ocispec.Descriptor{MediaType: mt, Digest: digest.NewDigestFromEncoded(digest.SHA256, sum), Size: size,
		Annotations: map[string]string{ocispec.AnnotationTitle: fmt.Sprintf("slurm-client-%s-%s-alpine%s", cfg.Version, arch, suffix)}}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, failure.New(failure.Internal, "encode config: %w", err)
	}
	cfgDesc := ocispec.Descriptor{MediaType: ConfigMediaType, Digest: digest.FromBytes(cfgJSON), Size: int64(len(cfgJSON))}
	vtag := versionTag(cfg.Version, arch)
	if prev, err := publishedBundle(ctx, repo, r, vtag); err != nil {
		return nil, err
	} else if prev != "" && prev != "sha256 "+sum && !o.Replace {
		return nil, failure.New(failure.FileSystem, "refusing to re-publish SLURM %s for %s in %s: its tag %s already holds %s, and these bytes are sha256 %s",
			cfg.Version, arch, r, vtag, prev, sum).
			WithHint("installers that pinned it would fail; publish the change as a new version").Suggest(failure.ReplaceBundle)
	}

	upload := func(d ocispec.Descriptor, open func() (io.Reader, error), what string) error {
		ok, err := repo.Exists(ctx, d)
		if err == nil && ok {
			o.Log.Debug().Str("blob", d.Digest.String()).Msg("registry already has the " + what)
			return nil
		}
		rd, err := open()
		if err != nil {
			return failure.New(failure.FileSystem, "read bundle: %w", err)
		}
		if err := repo.Push(ctx, d, rd); err != nil {
			return classify(ctx, r, "upload "+what, err)
		}
		return nil
	}
	if err := upload(layer, func() (io.Reader, error) {
		_, err := f.Seek(0, io.SeekStart)
		return f, err
	}, "bundle layer"); err != nil {
		return nil, err
	}
	if err := upload(cfgDesc, func() (io.Reader, error) { return bytes.NewReader(cfgJSON), nil }, "config"); err != nil {
		return nil, err
	}
	ann := map[string]string{
		"org.opencontainers.image.version": cfg.Version,
		"org.opencontainers.image.title":   "SLURM client " + cfg.Version + " for " + arch,
	}
	if !cfg.Created.IsZero() {
		ann[ocispec.AnnotationCreated] = cfg.Created.UTC().Format(time.RFC3339)
	}
	man := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest, ArtifactType: ArtifactType,
		Config: cfgDesc, Layers: []ocispec.Descriptor{layer}, Annotations: ann,
	}
	man.SchemaVersion = 2
	manJSON, err := json.Marshal(man)
	if err != nil {
		return nil, failure.New(failure.Internal, "encode manifest: %w", err)
	}
	manDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manJSON), Size: int64(len(manJSON)), ArtifactType: ArtifactType}
	tags := []string{vtag}
	if o.Latest {
		tags = append(tags, latestTag(arch))
	}
	if _, err := oras.TagBytesN(ctx, repo, ocispec.MediaTypeImageManifest, manJSON, tags, oras.DefaultTagBytesNOptions); err != nil {
		return nil, classify(ctx, r, "push manifest and tags", err)
	}
	res := &PushResult{Mirror: r.String(), Manifest: manDesc.Digest.String(), SHA256: sum, Size: size, Tags: tags}
	if o.SBOM != nil {
		d, err := pushSBOM(ctx, repo, r, manDesc, o.SBOM)
		if err != nil {
			return nil, err
		}
		res.SBOM = d.Digest.String()
		o.Log.Info().Str("referrer", res.SBOM).Msg("SBOM pushed as a referrer of the bundle")
	}
	o.Log.Info().Str("mirror", r.String()).Strs("tags", tags).Str("manifest", manDesc.Digest.String()).Str("sha256", sum).Int64("bytes", size).Msg("bundle pushed to the registry")
	return res, nil
}

func validTagPart(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i, c := range s {
		ok := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return false
		}
	}
	return true
}

// publishedBundle says what the version tag holds before a push: "" when
// the tag does not exist, "sha256 HEX" (its bundle layer) when it names a
// slurm-installer bundle, and "a manifest that is not a bundle (DIGEST)"
// otherwise (a push over it replaces something too).
func publishedBundle(ctx context.Context, repo *remote.Repository, r Ref, tag string) (string, error) {
	d, m, err := fetchManifest(ctx, repo, r, tag)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	var oe *Error
	if errors.As(err, &oe) && oe.Kind == KindIntegrity {
		return "a manifest that is not a bundle (" + d.Digest.String() + ")", nil
	}
	if err != nil {
		return "", err
	}
	l, err := checkManifest(r, tag, m)
	if err != nil {
		return "a manifest that is not a bundle (" + d.Digest.String() + ")", nil
	}
	return "sha256 " + l.Digest.Encoded(), nil
}
