// Package pack is the publisher side: it turns a directory holding a SLURM
// client payload (bin/, lib/, VERSION) into an AppHub tarball-layout bundle,
// its checksums and pkgs/slurm/index.json.
//
// # Invariants
//
//   - The same input gives a byte-identical tarball: entries sorted, owner
//     0:0 with no names, a fixed mtime, no gzip name or time (a .tar.zst:
//     with the same zstd command, see compress).
//   - A zstd bundle is published beside the gzip one of the same tar, never
//     instead of it: installers before zstd and the seed's AppHubs keep
//     working, and the index lists the gzip entry first.
//   - A payload the installer would reject (no bin/sinfo, a link leaving the
//     payload, a device file, ...) is refused here, before publishing; so is
//     a walk that yields no bin/sinfo: an empty bundle is never published.
//   - The payload directory may be named through a link (it is resolved
//     once); links inside the payload are packed as links, never followed.
//   - Before anything is published the tar is extracted with the
//     installer's own extractor ([install.ExtractArchive]): what it rejects
//     (a symlink chain leaving the payload, say) is refused here too; and
//     each compressed file is decoded and must hash to exactly that tar.
//   - Files in the output directory are replaced atomically (temp + rename).
//   - With a [trust.Signer], index.json.minisig is written right after
//     index.json and signs exactly its bytes; without one a stale signature
//     is removed, so a mirror never pairs an index with another's signature.
package pack

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/install"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/safeio"
	"slurm-installer/internal/slurmver"
	"slurm-installer/trust"
	"slurm-installer/verify"
)

// Options for [Pack].
type Options struct {
	From    string        // payload directory: bin/, lib/, VERSION
	Version string        // SLURM version; must match VERSION when the payload has one
	Arch    string        // any spelling; normalized
	Out     string        // AppHub document root to write pkgs/ into
	Latest  bool          // also point the latest names and index latest at this bundle
	Expires time.Duration // index validity (default 30 days)
	Now     time.Time     // creation time (default now); tarball mtimes are fixed regardless
	Signer  *trust.Signer // signs index.json into index.json.minisig; nil = unsigned

	// SelfContained also packs glibc's loader and every system library the
	// payload needs (from Sysroot, default "/") and rewrites the ELFs to
	// use them (see selfcontained.go); the bundle then only installs at
	// Prefix (default /usr/local/slurm).
	SelfContained bool
	Sysroot       string
	Prefix        string

	// Compress is the bundle's format: Zstd writes the .tar.zst and, for
	// installers before zstd and the seed's AppHubs, the .tar.gz of the
	// same tar beside it (both in the index, gzip first); Gzip writes only
	// the .tar.gz. "" is Gzip.
	Compress string

	// Replace allows publishing bytes other than the ones the AppHub
	// already publishes for this version and arch (installers that pinned
	// the old checksum then fail); without it that is refused.
	Replace bool

	// Origin is where the payload's files came from (pack --from-root): it
	// is recorded in index.json and gives the SBOM its package URLs.
	Origin *index.Origin
}

// Compression formats for Options.Compress.
const (
	Gzip = index.Gzip
	Zstd = index.Zstd
)

// Result says what was written.
type Result struct {
	Tarball string // path of the versioned tarball: the .tar.zst when zstd was asked for
	SHA256  string
	Size    int64
	// Gzip is the .tar.gz written beside a zstd Tarball ("" when Tarball
	// is the gzip one), with its digest and size.
	Gzip       string
	GzipSHA256 string
	GzipSize   int64
	Coder      string // what compressed Tarball ("zstd -19 (/usr/bin/zstd)", ...)
	Index      string // path of index.json
	Sig        string // path of index.json.minisig, "" when unsigned
	Serial     int64  // the index's new serial
	Expires    time.Time
	Files      int
	// SystemLibs are the payload paths a self-contained pack added (the
	// loader and glibc's libraries).
	SystemLibs []string
	// Unchanged: the AppHub already published these exact bytes for this
	// version and arch; nothing was written.
	Unchanged bool
	// SBOM is the path of the bundle's SPDX document beside index.json (the
	// bundle carries the same bytes at its top).
	SBOM string
}

// Prefix inside the tarball (docs/DESIGN.md §4).
const payloadPrefix = "usr/local/slurm/"

// Pack builds and publishes one bundle.
func Pack(ctx context.Context, o Options) (*Result, error) {
	arch, err := platform.Normalize(o.Arch)
	if err != nil {
		return nil, failure.New(failure.Usage, "the bundle's arch: %w", err)
	}
	if o.Version == "" || o.Version == "latest" || strings.ContainsAny(o.Version, "/ \t\n") {
		return nil, failure.New(failure.Usage, "the bundle's version %q is not a real version: give one such as 22.05.8", o.Version)
	}
	if o.Expires <= 0 {
		o.Expires = 30 * 24 * time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now().UTC()
	}
	// The payload the operator names may be a link ("current" -> a
	// versioned directory): follow it once, here, so everything below
	// walks the directory itself (a walk does not descend into a link, and
	// packed nothing but VERSION: issue 22). Links inside the payload are
	// never followed; collect checks them.
	if from, err := filepath.EvalSymlinks(o.From); err == nil {
		o.From = from
	}
	files, err := collect(o.From)
	if err != nil {
		return nil, err
	}
	if v, ok := files.version(); ok && v != o.Version {
		return nil, failure.New(failure.Usage, "%s/VERSION says %s but the bundle's version is given as %s", o.From, v, o.Version)
	}
	var systemLibs []string
	payloadDir := o.From
	if o.SelfContained {
		dir, added, cleanup, err := selfContain(o, arch)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		systemLibs = added
		if files, err = collect(dir); err != nil {
			return nil, err
		}
		payloadDir = dir
	}
	doc, err := bundleSBOM(payloadDir, o, arch)
	if err != nil {
		return nil, err
	}
	files = files.withSBOM(doc)
	raw, err := files.tarball(o.Version)
	if err != nil {
		return nil, err
	}
	formats := []bundle.Compression{Gzip}
	switch bundle.Compression(o.Compress) {
	case "", Gzip:
	case Zstd:
		formats = []bundle.Compression{Zstd, Gzip}
	default:
		return nil, failure.New(failure.Usage, "the bundle's compression %q is not gzip or zstd", o.Compress)
	}
	// The three CPU-heavy steps run side by side (pack is CPU-bound: on a
	// busy shared machine its wall time was CPU time waiting for a core):
	// compression, the installer's extractor over the tar, and the
	// payload's glibc need. compressAll then proves each compressed file
	// decodes to exactly the tar the extractor accepted.
	var (
		bundles          []*packed
		glibc            string
		cerr, xerr, gerr error
		wg               sync.WaitGroup
	)
	wg.Go(func() { bundles, cerr = compressAll(ctx, raw, formats) })
	wg.Go(func() { xerr = selfCheck(ctx, raw, ".tar", o.From) })
	wg.Go(func() {
		var err error
		if glibc, _, err = verify.PayloadGlibcNeed(o.From); err != nil {
			gerr = failure.New(failure.Usage, "read the payload: %w", err)
		}
	})
	wg.Wait()
	if err := cmp.Or(xerr, gerr, cerr); err != nil { // a refusal of the payload first
		return nil, err
	}
	apk := filepath.Join(o.Out, "pkgs", "slurm-apk")
	// Re-publishing (issue 27): every format this run packs is held against what the AppHub
	// already publishes for this version and arch. The same bytes again are a no-op; other
	// bytes are refused unless o.Replace.
	same, old, oldFor := true, "", ""
	for _, b := range bundles {
		pub, err := lookPublished(o.Out, versionedName(o.Version, arch, b.suffix), o.Version, arch, b.format)
		if err != nil {
			return nil, err
		}
		same = same && pub.same(b.sum)
		if c := pub.conflict(b.sum); c != "" && old == "" {
			old, oldFor = c, b.sum
		}
	}
	if same && signedAsAsked(o) {
		first := bundles[0]
		return &Result{Tarball: filepath.Join(apk, versionedName(o.Version, arch, first.suffix)), SHA256: first.sum, Size: int64(len(first.data)),
			Index: filepath.Join(o.Out, "pkgs", "slurm", "index.json"), Files: len(files), SystemLibs: systemLibs, Unchanged: true}, nil
	}
	if old != "" && !o.Replace {
		return nil, failure.New(failure.FileSystem, "refusing to re-publish SLURM %s for %s in %s: it is already published with sha256 %s, and these bytes are %s",
			o.Version, arch, o.Out, old, oldFor).
			WithHint("installers that pinned %s would fail; publish the change as a new version", old).Suggest(failure.ReplaceBundle)
	}
	if err := os.MkdirAll(apk, 0o755); err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	sums := map[string]bundle.Digest{}
	var entries []index.Bundle
	for _, b := range bundles {
		if err := b.publish(apk, o, arch, sums); err != nil {
			return nil, err
		}
		e := index.Bundle{Version: o.Version, Arch: arch, URL: "../slurm-apk/" + b.name,
			SHA256: b.sum, Size: int64(len(b.data)), SelfContained: o.SelfContained, Prefix: packedPrefix(o),
			Glibc: glibc, Series: slurmver.SeriesOf(o.Version)}
		if b.format == Zstd {
			e.Compression = Zstd
		}
		entries = append(entries, e)
	}
	if err := mergeSHA256SUMS(filepath.Join(apk, "SHA256SUMS"), sums); err != nil {
		return nil, err
	}
	idxPath := filepath.Join(o.Out, "pkgs", "slurm", "index.json")
	sbomPath := filepath.Join(filepath.Dir(idxPath), sbomName(o.Version, arch))
	if err := os.MkdirAll(filepath.Dir(sbomPath), 0o755); err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	if err := writeAtomic(sbomPath, doc); err != nil {
		return nil, err
	}
	for i := range entries {
		entries[i].SBOM, entries[i].Origin = filepath.Base(sbomPath), o.Origin
	}
	idx, err := updateIndex(idxPath, entries, o)
	if err != nil {
		return nil, err
	}
	first := bundles[0]
	r := &Result{Tarball: filepath.Join(apk, first.name), SHA256: first.sum, Size: int64(len(first.data)), Coder: first.coder, Index: idxPath,
		Serial: idx.Serial, Expires: idx.Expires, Files: len(files), SystemLibs: systemLibs, SBOM: sbomPath}
	if len(bundles) > 1 {
		g := bundles[1]
		r.Gzip, r.GzipSHA256, r.GzipSize = filepath.Join(apk, g.name), g.sum, int64(len(g.data))
	}
	sigPath := idxPath + trust.SignatureSuffix
	if o.Signer == nil {
		if err := os.Remove(sigPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, failure.New(failure.FileSystem, "remove stale %s: %w", sigPath, err)
		}
		return r, nil
	}
	idxRaw, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	if err := writeAtomic(sigPath, o.Signer.Sign(idxRaw, "index.json", o.Now.Unix())); err != nil {
		return nil, err
	}
	r.Sig = sigPath
	return r, nil
}

// selfCheck extracts the tarball with the installer's extractor, so a
// payload the installer would reject is never published.
func selfCheck(ctx context.Context, data []byte, suffix, from string) error {
	tmp, err := os.MkdirTemp("", "slurm-pack-check-")
	if err != nil {
		return failure.Wrap(failure.FileSystem, err)
	}
	defer os.RemoveAll(tmp)
	tgz := filepath.Join(tmp, "bundle"+suffix)
	if err := os.WriteFile(tgz, data, 0o600); err != nil {
		return failure.Wrap(failure.FileSystem, err)
	}
	dir := filepath.Join(tmp, "x")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return failure.Wrap(failure.FileSystem, err)
	}
	if _, err := install.ExtractArchive(ctx, tgz, dir, install.Limits{}, zerolog.Nop()); err != nil {
		if failure.ClassOf(err) == failure.FileSystem {
			return err
		}
		return failure.New(failure.Usage, "refusing to pack %s: the installer would reject the bundle: %w", from, err)
	}
	return nil
}

type file struct {
	rel    string // slash path relative to the payload
	mode   fs.FileMode
	target string
	abs    string
	data   []byte // the content when it is made by pack (the SBOM), not read from abs
}

type fileList []file

func (fl fileList) version() (string, bool) {
	for _, f := range fl {
		if f.rel == "VERSION" && f.mode.IsRegular() {
			b, err := os.ReadFile(f.abs)
			if err != nil {
				return "", false
			}
			v := slurmver.FromFile(b)
			return v, v != ""
		}
	}
	return "", false
}

// collect walks the payload and applies the installer's entry rules.
func collect(dir string) (fileList, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, failure.New(failure.Usage, "the payload %s is not a directory", dir).Suggest(failure.GivePayload)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin", "sinfo")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil, failure.New(failure.Usage, "%s has no executable bin/sinfo: not a SLURM client payload", dir).
			Suggest(failure.GivePayload)
	}
	var out fileList
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := file{rel: rel, mode: info.Mode(), abs: p}
		if info.Mode()&fs.ModeSymlink != 0 {
			if f.target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if _, err := install.CheckEntry(payloadPrefix+rel, f.mode, f.target, false); err != nil {
			return failure.New(failure.Usage, "refusing to pack %s: %w", p, err)
		}
		if f.target != "" {
			t := path.Join(path.Dir(rel), f.target)
			if t == ".." || strings.HasPrefix(t, "../") {
				return failure.New(failure.Usage, "refusing to pack %s: symlink to %q leaves the payload", p, f.target)
			}
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		var fe *failure.Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, failure.New(failure.FileSystem, "read %s: %w", dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	if !slices.ContainsFunc(out, func(f file) bool { return f.rel == "bin/sinfo" && f.mode.IsRegular() }) {
		// Never publish a bundle the installer cannot use, whatever the walk saw.
		return nil, failure.New(failure.Usage, "%s yields no bin/sinfo to pack (%d entries): not a SLURM client payload", dir, len(out)).
			Suggest(failure.GivePayload)
	}
	return out, nil
}

// epoch is every entry's mtime: reproducible and obviously synthetic.
var epoch = time.Unix(0, 0).UTC()

// tarball is the payload as an uncompressed tar (see compressAll).
func (fl fileList) tarball(version string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := func(name string, mode int64, typ byte, size int64, link string) error {
		return tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Typeflag: typ, Size: size, Linkname: link,
			ModTime: epoch, Format: tar.FormatPAX, Uid: 0, Gid: 0})
	}
	for _, d := range []string{"usr/", "usr/local/", payloadPrefix} {
		if err := hdr(d, 0o755, tar.TypeDir, 0, ""); err != nil {
			return nil, err
		}
	}
	hasVersion := false
	for _, f := range fl {
		name := payloadPrefix + f.rel
		perm := int64(f.mode.Perm()) // setuid/setgid/sticky never published
		switch {
		case f.mode.IsDir():
			if err := hdr(name+"/", perm|0o700, tar.TypeDir, 0, ""); err != nil {
				return nil, err
			}
		case f.mode&fs.ModeSymlink != 0:
			if err := hdr(name, 0o777, tar.TypeSymlink, 0, f.target); err != nil {
				return nil, err
			}
		default:
			if f.rel == "VERSION" {
				hasVersion = true
			}
			b := f.data
			if b == nil {
				var err error
				if b, err = os.ReadFile(f.abs); err != nil {
					return nil, failure.Wrap(failure.FileSystem, err)
				}
			}
			if err := hdr(name, perm, tar.TypeReg, int64(len(b)), ""); err != nil {
				return nil, err
			}
			if _, err := tw.Write(b); err != nil {
				return nil, err
			}
		}
	}
	if !hasVersion {
		v := []byte(version + "\n")
		if err := hdr(payloadPrefix+"VERSION", 0o644, tar.TypeReg, int64(len(v)), ""); err != nil {
			return nil, err
		}
		tw.Write(v)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeAtomic(p string, data []byte) error {
	if err := safeio.WriteFileAtomic(p, bytes.NewReader(data), 0o644); err != nil {
		return failure.New(failure.FileSystem, "write %s: %w", p, err)
	}
	return nil
}

func symlinkAtomic(target, p string) error {
	tmp := p + ".pack-tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return failure.Wrap(failure.FileSystem, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return failure.Wrap(failure.FileSystem, err)
	}
	return nil
}

func mergeSHA256SUMS(p string, add map[string]bundle.Digest) error {
	sums := map[string]bundle.Digest{}
	if b, err := safeio.ReadFile(p, bundle.MaxSums); err == nil {
		if old, err := bundle.ParseSums(b); err == nil {
			sums = old
		}
	}
	maps.Copy(sums, add)
	return writeAtomic(p, bundle.FormatSums(sums))
}

// updateIndex puts add (one version and arch, one entry per format) into
// the index at p, replacing what it listed for that version and arch.
func updateIndex(p string, add []index.Bundle, o Options) (*index.Index, error) {
	b := add[0]
	idx := &index.Index{Schema: index.Schema, Latest: map[string]string{}}
	if data, err := os.ReadFile(p); err == nil {
		old, err := index.Parse(data)
		if err != nil {
			return nil, failure.New(failure.Usage, "existing %s is not a valid index: %w", p, err).
				WithHint("move it away to start a new index")
		}
		idx = old
		if idx.Latest == nil {
			idx.Latest = map[string]string{}
		}
	}
	kept := idx.Bundles[:0]
	for _, x := range idx.Bundles {
		if !(x.Version == b.Version && x.Arch == b.Arch) {
			kept = append(kept, x)
		}
	}
	idx.Bundles = append(kept, add...)
	sort.SliceStable(idx.Bundles, func(i, j int) bool {
		x, y := idx.Bundles[i], idx.Bundles[j]
		if x.Arch != y.Arch {
			return x.Arch < y.Arch
		}
		if x.Version != y.Version {
			return x.Version < y.Version
		}
		// gzip first: an installer before zstd takes the first entry.
		return x.Format() == Gzip && y.Format() != Gzip
	})
	if o.Latest || idx.Latest[b.Arch] == "" {
		idx.Latest[b.Arch] = b.Version
	}
	idx.Serial++
	idx.Created = o.Now.UTC().Truncate(time.Second)
	idx.Expires = idx.Created.Add(o.Expires)
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, failure.Wrap(failure.Internal, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	if _, err := index.Parse(data); err != nil {
		return nil, failure.New(failure.Internal, "pack wrote an index it cannot read back: %w", err)
	}
	return idx, writeAtomic(p, append(data, '\n'))
}

// packedPrefix is the prefix index.json records for a self-contained bundle
// (its commands name their loader under it), "" for a plain one.
func packedPrefix(o Options) string {
	if !o.SelfContained {
		return ""
	}
	if o.Prefix == "" {
		return DefaultPrefix
	}
	return path.Clean(o.Prefix)
}

// versionedName is the tarball layout's versioned name of a bundle of this suffix.
func versionedName(version, arch, suffix string) string {
	return fmt.Sprintf("slurm-client-%s-%s-alpine%s", version, arch, suffix)
}
