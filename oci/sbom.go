package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"slurm-installer/internal/failure"
)

// SBOMMediaType is the media type of an SPDX JSON document, the artifact
// type of the SBOM referrer pack pushes for every bundle (issue 27).
const SBOMMediaType = "application/spdx+json"

// maxSBOM caps an SBOM read back from a registry.
const maxSBOM = 16 << 20

// pushSBOM pushes doc as an OCI referrer of the bundle manifest subject: a
// manifest of artifact type [SBOMMediaType] whose subject is the bundle, so
// `oras discover` and scanners that follow referrers find it. A registry
// without the referrers API gets the tag-schema fallback (oras-go writes
// it).
func pushSBOM(ctx context.Context, repo registry.Repository, r Ref, subject ocispec.Descriptor, doc []byte) (ocispec.Descriptor, error) {
	layer := ocispec.Descriptor{MediaType: SBOMMediaType, Digest: digest.FromBytes(doc), Size: int64(len(doc)),
		Annotations: map[string]string{ocispec.AnnotationTitle: "slurm-client.spdx.json"}}
	if ok, err := repo.Exists(ctx, layer); err != nil || !ok {
		if err := repo.Push(ctx, layer, bytes.NewReader(doc)); err != nil {
			return ocispec.Descriptor{}, classify(ctx, r, "upload SBOM", err)
		}
	}
	empty := ocispec.DescriptorEmptyJSON
	if ok, err := repo.Exists(ctx, empty); err != nil || !ok {
		if err := repo.Push(ctx, empty, bytes.NewReader(empty.Data)); err != nil {
			return ocispec.Descriptor{}, classify(ctx, r, "upload SBOM config", err)
		}
	}
	man := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: SBOMMediaType,
		Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{layer}, Subject: &subject}
	man.SchemaVersion = 2
	raw, err := json.Marshal(man)
	if err != nil {
		return ocispec.Descriptor{}, failure.New(failure.Internal, "encode SBOM manifest: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw)), ArtifactType: SBOMMediaType}
	if err := repo.Push(ctx, desc, bytes.NewReader(raw)); err != nil {
		return ocispec.Descriptor{}, classify(ctx, r, "push SBOM manifest", err)
	}
	return desc, nil
}

// ReferredSBOM reads back the SBOM referrer of the bundle manifest
// (sha256:...) in ref: the first referrer of artifact type
// [SBOMMediaType], at most 16 MiB.
func ReferredSBOM(ctx context.Context, ref, manifest string, c ClientOptions) ([]byte, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	repo, hc, err := repository(r, c)
	if err != nil {
		return nil, err
	}
	defer closeIdle(hc)
	subject, err := repo.Resolve(ctx, manifest)
	if err != nil {
		return nil, classify(ctx, r, "resolve "+manifest, err)
	}
	var found *ocispec.Descriptor
	if err := repo.Referrers(ctx, subject, SBOMMediaType, func(ds []ocispec.Descriptor) error {
		if found == nil && len(ds) > 0 {
			found = &ds[0]
		}
		return nil
	}); err != nil {
		return nil, classify(ctx, r, "list referrers of "+manifest, err)
	}
	if found == nil {
		return nil, newErr(KindNotFound, r, nil, "no SBOM refers to %s", manifest)
	}
	read := func(d ocispec.Descriptor) ([]byte, error) {
		rc, err := repo.Fetch(ctx, d)
		if err != nil {
			return nil, classify(ctx, r, "fetch "+d.Digest.String(), err)
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, maxSBOM))
	}
	raw, err := read(*found)
	if err != nil {
		return nil, err
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(raw, &man); err != nil || len(man.Layers) != 1 || man.Layers[0].Size > maxSBOM {
		return nil, newErr(KindIntegrity, r, err, "the SBOM referrer of %s is not one SPDX layer", manifest)
	}
	return read(man.Layers[0])
}
