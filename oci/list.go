package oci

// What a registry mirror offers (List) and which bundle Fetch would take
// (Resolve), read from tags, manifests and configs only: no layer is
// downloaded (issue 26: `slurm-installer list`, `install --dry-run`).

import (
	"context"
	"sort"
	"strings"
)

// TagInfo is one tag of a registry mirror and the bundle it names.
type TagInfo struct {
	Tag         string
	Manifest    string  // manifest digest
	Config      *Config // nil when the tag is not a slurm-installer bundle (Err says why)
	SHA256      string  // the layer digest (hex)
	Size        int64   // the layer's size
	Compression string  // from the layer's media type: gzip, zstd
	Err         string
}

// List returns the tags of the registry mirror ref (oci://HOST/REPO),
// sorted, and for at most limit of them the bundle each names (its config
// and layer descriptor); the layers are not downloaded.
func List(ctx context.Context, ref string, client ClientOptions, limit int) ([]TagInfo, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	repo, hc, err := repository(r, client)
	if err != nil {
		return nil, err
	}
	defer closeIdle(hc)
	var tags []string
	if err := repo.Tags(ctx, "", func(ts []string) error {
		tags = append(tags, ts...)
		return nil
	}); err != nil {
		return nil, classify(ctx, r, "list tags", err)
	}
	sort.Strings(tags)
	out := make([]TagInfo, 0, len(tags))
	for i, tag := range tags {
		ti := TagInfo{Tag: tag}
		if i >= limit {
			ti.Err = "not read (too many tags)"
			out = append(out, ti)
			continue
		}
		mdesc, man, err := fetchManifest(ctx, repo, r, tag)
		if err != nil {
			ti.Err = err.Error()
			out = append(out, ti)
			continue
		}
		ti.Manifest = mdesc.Digest.String()
		layer, err := checkManifest(r, tag, man)
		if err == nil {
			ti.Config, err = readConfig(ctx, repo, r, tag, man.Config)
		}
		if err != nil {
			ti.Err = err.Error()
		} else {
			ti.SHA256, ti.Size, ti.Compression = layer.Digest.Encoded(), layer.Size, layerCompression(layer.MediaType)
		}
		out = append(out, ti)
	}
	return out, nil
}

// layerCompression names the compression a layer media type says.
func layerCompression(mt string) string {
	_, c, ok := strings.Cut(mt, "+")
	if !ok {
		return ""
	}
	return c
}

// Resolved is the bundle Fetch would take, without its bytes.
type Resolved struct {
	URL            string // oci://HOST/REPO:TAG@MANIFEST-DIGEST
	Tag            string
	SHA256         string // the layer digest (hex)
	ChecksumSource string
	Version        string
	Size           int64
	Config         Config
	Skipped        []string // "VERSION: why" for each newer bundle Accept refused
}

// Resolve is Fetch up to the layer: it resolves the selector to a tag,
// checks its manifest, config and layer descriptor against Options
// (Accept, SHA256, MaxBytes) the way Fetch does, and downloads nothing.
func Resolve(ctx context.Context, o Options) (*Resolved, error) {
	c, err := choose(ctx, &o)
	if err != nil {
		return nil, err
	}
	closeIdle(c.hc)
	return &c.Resolved, nil
}
