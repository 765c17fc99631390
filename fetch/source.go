package fetch

import "context"

// A source is one way to read a mirror, in the shape of go-getter's
// Getter: the AppHub index, the tarball layout (an archive by name, or
// found in a listing for a series), the tree layout, a registry. The racer
// and its hedging know nothing of sources; a source knows nothing of
// racing. Whatever a source reads — discovery, listings, checksums,
// manifests, tag lists, the bundle — goes through its mirrorGo (request,
// open, readSmall and download for http://, https:// and file://; oci's
// client for registries), which reports every wait for headers and every
// byte to the racer's meter and claims the download before the bundle's
// first byte. So a mirror's whole job is one unit the racer starts,
// hedges and cancels (race.go, decide.go), and every byte is judged.
//
// file:// is not a source of its own: the same layouts, read through an
// os.Root on the mirror's directory (localfs.go).
type source interface {
	get(ctx context.Context, mg *mirrorGo, m *mirror, st step) (*Artifact, *fetchError)
}

type (
	fileSource  struct{} // an archive: a direct URL or the tarball layout's name (checksum.go)
	indexSource struct{} // pkgs/slurm/index.json and the bundle it names (index.go)
	treeSource  struct{} // pkgs/slurm-binaries/{arch}/ listed by autoindex (tree.go)
	listSource  struct{} // pkgs/slurm-apk/ listed by autoindex, for a series (select.go)
	ociSource   struct{} // an oci:// registry: tag, manifest, config, layer (oci.go)
)

// sources maps each step of a mirror's plan (planMirror) to its source.
var sources = map[stepKind]source{
	stepFile: fileSource{}, stepIndex: indexSource{}, stepTree: treeSource{}, stepList: listSource{}, stepOCI: ociSource{},
}

func (fileSource) get(ctx context.Context, mg *mirrorGo, _ *mirror, st step) (*Artifact, *fetchError) {
	return mg.fetchFile(ctx, st, nil)
}

func (indexSource) get(ctx context.Context, mg *mirrorGo, _ *mirror, st step) (*Artifact, *fetchError) {
	return mg.fetchIndex(ctx, st)
}

func (treeSource) get(ctx context.Context, mg *mirrorGo, _ *mirror, st step) (*Artifact, *fetchError) {
	return mg.fetchTree(ctx, st)
}

func (listSource) get(ctx context.Context, mg *mirrorGo, m *mirror, st step) (*Artifact, *fetchError) {
	return mg.fetchListed(ctx, st, m.name)
}

func (ociSource) get(ctx context.Context, mg *mirrorGo, m *mirror, _ step) (*Artifact, *fetchError) {
	return mg.fetchOCI(ctx, m.raw)
}
