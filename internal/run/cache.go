package run

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/safeio"
)

// cache keeps verified bundles by sha256 in --cache-dir (a BuildKit cache
// mount in image builds), so a rebuild with a pinned or remembered checksum
// needs no mirror at all. Entries are <sha256>-<file name>; a <arch>-<version>
// file remembers which sha256 a version resolved to.
type cache struct {
	dir string
	log zerolog.Logger
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func (c *cache) refPath(arch, version string) string {
	return filepath.Join(c.dir, safeName.ReplaceAllString(arch+"-"+version, "_")+".ref")
}

// lookup returns a cached artifact whose content hashes to sha (or to the
// sha remembered for arch/version when sha is empty).
//
// The cache directory is named by a flag: its .ref and .origin files are
// read through the safe reader (regular files only, capped), never waited on.
func (c *cache) lookup(sha, arch, version string) *fetch.Artifact {
	if c == nil || c.dir == "" {
		return nil
	}
	if sha == "" {
		b, err := safeio.ReadFile(c.refPath(arch, version), maxCacheMeta)
		if err != nil {
			return nil
		}
		sha = strings.TrimSpace(string(b))
	}
	if !bundle.Digest(sha).Valid() {
		// From a receipt or a .ref file: untrusted, and used in a glob
		// whose non-matching hits are removed (issue 12 item 3).
		c.log.Warn().Str("sha256", sha).Msg("not a SHA-256 digest; the cache is not consulted")
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(c.dir, sha+"-*"))
	for _, m := range matches {
		got, err := hashFile(m)
		if err != nil || got != sha {
			c.log.Warn().Str("file", m).Msg("cached bundle does not match its checksum; ignoring and removing it")
			os.Remove(m)
			continue
		}
		name := strings.TrimPrefix(filepath.Base(m), sha+"-")
		art := &fetch.Artifact{Path: m, Name: name, URL: "file://" + m, Mirror: "--cache-dir", Layout: bundle.LayoutCache, SHA256: sha,
			ChecksumSource: "cache (content re-hashed)", Verification: fetch.VerifiedNone}
		// How the bytes were verified when they were downloaded, and where
		// from (issue 13): the receipt records the origin, not the cache file.
		var meta cacheMeta
		if b, err := safeio.ReadFile(m+".origin", maxCacheMeta); err == nil && json.Unmarshal(b, &meta) == nil {
			art.Origin, art.Verification, art.Version = fetch.Redact(meta.Origin), meta.Verification, meta.Version
			if !art.Verification.Valid() { // the cache directory is not ours alone: an unknown value vouches for nothing
				art.Verification = fetch.VerifiedNone
			}
			art.ChecksumSource = "cache (content re-hashed; verified by " + string(art.Verification) + " when downloaded)"
		}
		return art
	}
	return nil
}

// cacheMeta is <entry>.origin: where a cached bundle came from and how it
// was verified then.
type cacheMeta struct {
	Origin       string              `json:"origin"`
	Verification bundle.Verification `json:"verification"`
	Version      string              `json:"version,omitempty"`
}

// store copies an archive into the cache with how it was verified and
// where it came from (<entry>.origin: the cache must not make unverified
// bytes look verified later), and remembers its sha for arch/version.
// Failures only warn: the cache is an optimisation.
func (c *cache) store(art *fetch.Artifact, arch, version string) {
	if c == nil || c.dir == "" || art.Tree || art.SHA256 == "" || art.Layout == bundle.LayoutCache {
		return
	}
	if err := c.put(art, arch, version); err != nil {
		c.log.Warn().Err(err).Str("cache_dir", c.dir).Msg("could not cache the bundle")
	}
}

// entryPath is where the cache keeps a verified archive: <sha256>-<name>.
func (c *cache) entryPath(art *fetch.Artifact) string {
	name := safeName.ReplaceAllString(cmp.Or(art.Name, filepath.Base(art.Path)), "_")
	return filepath.Join(c.dir, art.SHA256+"-"+name)
}

func (c *cache) put(art *fetch.Artifact, arch, version string) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	dst := c.entryPath(art)
	if _, err := os.Stat(dst); err != nil {
		src, err := os.Open(art.Path)
		if err != nil {
			return err
		}
		defer src.Close()
		if err := safeio.WriteFileAtomic(dst, src, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	if b, err := json.Marshal(cacheMeta{Origin: fetch.Redact(cmp.Or(art.Origin, art.URL)), Verification: art.Verification, Version: art.Version}); err == nil {
		_ = safeio.WriteFileAtomic(dst+".origin", bytes.NewReader(b), 0o644)
	}
	for _, v := range []string{version, art.Version} {
		if v != "" {
			_ = os.WriteFile(c.refPath(arch, v), []byte(art.SHA256+"\n"), 0o644)
		}
	}
	c.log.Debug().Str("file", dst).Msg("bundle cached")
	return nil
}

// CacheEntryPath is where a cache in dir keeps the verified archive art.
func CacheEntryPath(dir string, art *fetch.Artifact) string {
	return (&cache{dir: dir}).entryPath(art)
}

// maxCacheMeta caps a cache .ref or .origin file.
const maxCacheMeta = 64 << 10
