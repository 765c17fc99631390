package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/slurmver"
)

// Limits on a tree download.
// The walk is bounded as it goes (issue 13): depth, entries (files and
// directories together), listings fetched and listing bytes; the download
// by one byte budget shared by every file (the listing's sizes are checked
// against it first, and bytes are counted as they arrive).
const (
	maxTreeDepth    = 8
	maxTreeFiles    = 20000
	maxTreeEntries  = 20000    // files and directories
	maxTreeListings = 1000     // directories listed
	maxListingBytes = 32 << 20 // all listings together
	maxListingSize  = 4 << 20
	treeWorkers     = 4
)

// entry is one name in a directory listing. Size is -1 when the listing
// does not say.
type entry struct {
	Name string
	Dir  bool
	Size int64
}

var hrefRE = regexp.MustCompile(`(?i)<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>`)

// parseAutoindex parses an nginx autoindex listing: JSON (autoindex_format
// json, detected by the content type or a leading '[') or HTML. It returns
// only entries whose names are safe single path elements: parent links,
// query and fragment links, absolute and cross-site hrefs, and names that
// decode to something with '/', '\', NUL, "." or ".." are left out.
func parseAutoindex(data []byte, contentType string) ([]entry, error) {
	if len(data) > maxListingSize {
		return nil, errors.New("listing too large")
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if strings.Contains(strings.ToLower(contentType), "json") || bytes.HasPrefix(trimmed, []byte("[")) {
		return parseJSONIndex(trimmed)
	}
	if !bytes.Contains(data, []byte("<")) {
		return nil, errors.New("not an autoindex listing (neither JSON nor HTML)")
	}
	var out []entry
	seen := map[string]bool{}
	for _, m := range hrefRE.FindAllSubmatchIndex(data, -1) {
		var href string
		if m[2] >= 0 {
			href = string(data[m[2]:m[3]])
		} else {
			href = string(data[m[4]:m[5]])
		}
		href = html.UnescapeString(href)
		if href == "" || strings.ContainsAny(href, "?#") || strings.HasPrefix(href, "/") {
			continue
		}
		if u, err := url.Parse(href); err != nil || u.Scheme != "" || u.Host != "" {
			continue
		}
		dir := strings.HasSuffix(href, "/")
		name, err := url.PathUnescape(strings.TrimSuffix(href, "/"))
		if err != nil || !safeName(name) || seen[name] {
			continue
		}
		seen[name] = true
		e := entry{Name: name, Dir: dir, Size: -1}
		if !dir {
			e.Size = htmlSize(data[m[1]:])
		}
		out = append(out, e)
	}
	return out, nil
}

// htmlSize reads the size nginx prints after a link: `</a>   date time   1234`.
func htmlSize(rest []byte) int64 {
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	// Find "</a>" in any case without bytes.ToLower, which changes the
	// length of invalid UTF-8 and so the index (found by FuzzParseAutoindex).
	i := -1
	for j := 0; j+4 <= len(rest); j++ {
		if rest[j] == '<' && bytes.EqualFold(rest[j:j+4], []byte("</a>")) {
			i = j
			break
		}
	}
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(rest[i+4:]))
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func parseJSONIndex(data []byte) ([]entry, error) {
	var raw []struct {
		Name string `json:"name"`
		Type string `json:"type"`
		Size *int64 `json:"size"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("bad JSON listing: %w", err)
	}
	var out []entry
	seen := map[string]bool{}
	for _, r := range raw {
		if !safeName(r.Name) || seen[r.Name] || (r.Type != "file" && r.Type != "directory") {
			continue
		}
		seen[r.Name] = true
		e := entry{Name: r.Name, Dir: r.Type == "directory", Size: -1}
		if !e.Dir && r.Size != nil && *r.Size >= 0 {
			e.Size = *r.Size
		}
		out = append(out, e)
	}
	return out, nil
}

// safeName reports whether name is one harmless path element.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 &&
		!strings.ContainsAny(name, "/\\\x00")
}

// treeFile is one file of a tree layout.
type treeFile struct {
	rel  string // slash-separated, relative to the arch directory
	url  *url.URL
	size int64
}

// list returns the entries of the directory at u (an autoindex listing, or
// a local directory for file://).
func (s *mirrorGo) list(ctx context.Context, u *url.URL) ([]entry, *fetchError) {
	if u.Scheme == "file" {
		return s.listFile(u)
	}
	data, ct, ferr := s.readSmall(ctx, u, maxListingSize)
	if ferr != nil {
		return nil, ferr
	}
	es, err := parseAutoindex(data, ct)
	if err != nil {
		return nil, &fetchError{kind: kFatal, url: urlString(u), cause: err.Error(), err: err}
	}
	return es, nil
}

// child is the URL of name (a directory when dir) inside directory u.
func child(u *url.URL, name string, dir bool) *url.URL {
	if u.Scheme == "file" {
		c := *u
		c.Path = path.Join(u.Path, name)
		c.RawPath = ""
		if dir {
			c.Path += "/"
		}
		return &c
	}
	p, ref := "./"+name, "./"+url.PathEscape(name)
	if dir {
		p, ref = p+"/", ref+"/"
	}
	return u.ResolveReference(&url.URL{Path: p, RawPath: ref})
}

// retrying runs f, and again after a backoff while it fails with a
// retryable error and attempts are left. Within a tree the mirror has
// already answered, so a hiccup on one file is retried in place.
func (s *session) retrying(ctx context.Context, what string, f func() *fetchError) *fetchError {
	for attempt := 1; ; attempt++ {
		ferr := f()
		if ferr == nil || ferr.kind != kRetry || attempt > s.retries || ctx.Err() != nil {
			return ferr
		}
		wait, ok := s.retryWait(ctx, attempt, ferr)
		if !ok {
			return ferr
		}
		s.log.Warn().Str("url", ferr.url).Int("attempt", attempt).Str("cause", ferr.cause).
			Str("next", fmt.Sprintf("retrying in %s", wait.Round(time.Millisecond))).Msg(what + " failed")
		if err := sleep(ctx, wait); err != nil {
			return &fetchError{kind: kRetry, url: ferr.url, cause: ferr.cause + "; " + ctxCause(err), err: err}
		}
	}
}

// walkTree lists the tree below dir: its files and its directories.
func (s *mirrorGo) walkTree(ctx context.Context, dir *url.URL, top []entry) ([]treeFile, []string, *fetchError) {
	type pending struct {
		rel     string
		u       *url.URL
		depth   int
		entries []entry
	}
	queue := []pending{{rel: "", u: dir, depth: 0, entries: top}}
	var files []treeFile
	var dirs []string
	var listings int
	var listed, announced int64
	over := func(cause string) *fetchError {
		return &fetchError{kind: kOversize, url: urlString(dir), cause: "the tree is too large: " + cause}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		es := p.entries
		if es == nil {
			if listings++; listings > maxTreeListings {
				return nil, nil, over(fmt.Sprintf("more than %d directories to list", maxTreeListings))
			}
			ferr := s.retrying(ctx, "listing", func() *fetchError {
				var ferr *fetchError
				es, ferr = s.list(ctx, p.u)
				return ferr
			})
			if ferr != nil {
				if ferr.kind == kNotFound {
					ferr.kind, ferr.cause = kFatal, "listed but "+ferr.cause
				}
				return nil, nil, ferr
			}
			for _, e := range es {
				listed += int64(len(e.Name)) + 64
			}
			if listed > maxListingBytes {
				return nil, nil, over(fmt.Sprintf("its listings hold more than %d bytes", maxListingBytes))
			}
		}
		if len(files)+len(dirs)+len(es) > maxTreeEntries {
			return nil, nil, over(fmt.Sprintf("more than %d entries", maxTreeEntries))
		}
		for _, e := range es {
			rel := path.Join(p.rel, e.Name)
			if p.rel == "" && !e.Dir && (strings.HasPrefix(e.Name, "SHA256SUMS") || strings.HasSuffix(e.Name, ".minisig")) {
				continue // metadata, not payload
			}
			if e.Dir {
				if p.depth+1 > maxTreeDepth {
					return nil, nil, &fetchError{kind: kFatal, url: urlString(p.u), cause: "tree is nested too deep"}
				}
				dirs = append(dirs, rel)
				queue = append(queue, pending{rel: rel, u: child(p.u, e.Name, true), depth: p.depth + 1})
				continue
			}
			if len(files) >= maxTreeFiles {
				return nil, nil, &fetchError{kind: kOversize, url: urlString(dir), cause: fmt.Sprintf("more than %d files", maxTreeFiles)}
			}
			files = append(files, treeFile{rel: rel, url: child(p.u, e.Name, false), size: e.Size})
			if e.Size > 0 {
				if announced += e.Size; announced > s.maxBytes {
					return nil, nil, over(fmt.Sprintf("its listing announces more than the download limit (%d bytes)", s.maxBytes))
				}
			}
		}
	}
	return files, dirs, nil
}

// fetchTree downloads the tree layout at st.url into a directory under
// TempDir and verifies every file against SHA256SUMS when it is there.
func (s *mirrorGo) fetchTree(ctx context.Context, st step) (*Artifact, *fetchError) {
	top, ferr := s.list(ctx, st.url)
	if ferr != nil {
		return nil, ferr
	}
	hasSums, ferr := s.checkTreeTop(ctx, st, top)
	if ferr != nil {
		return nil, ferr
	}
	sums, sumsData, sumsURL, ferr := s.treeSums(ctx, st, hasSums)
	if ferr != nil {
		return nil, ferr
	}

	files, dirs, ferr := s.walkTree(ctx, st.url, top)
	if ferr != nil {
		return nil, ferr
	}

	dir, err := os.MkdirTemp(s.tempDir, "slurm-tree-*")
	if err != nil {
		return nil, &fetchError{kind: kLocal, url: urlString(st.url), cause: err.Error(), err: err}
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &fetchError{kind: kLocal, url: urlString(st.url), cause: err.Error(), err: err}
	}
	defer root.Close()
	for _, d := range dirs {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return nil, &fetchError{kind: kLocal, url: urlString(st.url), cause: err.Error(), err: err}
		}
	}

	digests, total, ferr := s.downloadTree(ctx, root, files)
	if ferr != nil {
		return nil, ferr
	}

	manifestDigest, source, how, ferr := s.verifyTree(st, files, digests, sums, sumsData, sumsURL)
	if ferr != nil {
		return nil, ferr
	}

	vb, err := root.ReadFile("VERSION")
	if err != nil {
		return nil, &fetchError{kind: kLocal, url: urlString(st.url), cause: err.Error(), err: err}
	}
	version := slurmver.FromFile(vb)
	if !validVersion(version) {
		return nil, &fetchError{kind: kFatal, url: urlString(child(st.url, "VERSION", false)), cause: fmt.Sprintf("VERSION holds no version: %q", truncate(version, 40))}
	}
	ok = true
	return &Artifact{
		Path: dir, Tree: true, Name: path.Base(strings.TrimSuffix(st.url.Path, "/")), URL: urlString(st.url),
		Layout: bundle.LayoutTree, SHA256: manifestDigest, ChecksumSource: source, Verification: how, Origin: urlString(st.url), Version: version, Size: total,
		Cleanup: func() { os.RemoveAll(dir) },
	}, nil
}

// checkTreeTop checks a tree's top listing (bin/ and VERSION, SHA256SUMS
// when a checksum is required) and, when a version or a runnable bundle is
// asked for, reads VERSION first: another version is a miss, so the next
// mirror is asked before anything is downloaded.
func (s *mirrorGo) checkTreeTop(ctx context.Context, st step, top []entry) (hasSums bool, _ *fetchError) {
	var hasBin, hasVersion bool
	for _, e := range top {
		switch {
		case e.Name == "bin" && e.Dir:
			hasBin = true
		case e.Name == "VERSION" && !e.Dir:
			hasVersion = true
		case e.Name == "SHA256SUMS" && !e.Dir:
			hasSums = true
		}
	}
	if !hasBin || !hasVersion {
		return false, notFound(st.url, "listing has no bin/ and VERSION")
	}
	if !hasSums && s.want == "" && s.o.RequireChecksum {
		// Refuse before downloading anything.
		return false, s.noTreeSums(st.url)
	}
	if s.version != "latest" || s.o.Accept != nil {
		// The tree's path carries no version: read VERSION before
		// downloading anything, and treat another version as a miss so
		// the next mirror is asked.
		vu := child(st.url, "VERSION", false)
		var vb []byte
		ferr := s.retrying(ctx, "VERSION", func() *fetchError {
			var ferr *fetchError
			vb, _, ferr = s.readSmall(ctx, vu, 4096)
			return ferr
		})
		if ferr != nil {
			return false, ferr
		}
		got := slurmver.FromFile(vb)
		if ok, why := s.accepts(got); !ok {
			if why == "not SLURM "+s.version {
				why = "not the requested " + s.version
			} else {
				return false, &fetchError{kind: kUnrunnable, url: urlString(st.url), cause: fmt.Sprintf("the tree holds SLURM %q, %s", truncate(got, 40), why)}
			}
			// The tree holds one version only (select.go): it matches a
			// series iff its VERSION does.
			return false, notFound(st.url, fmt.Sprintf("the tree holds SLURM %q, %s", truncate(got, 40), why))
		}
	}
	return hasSums, nil
}

// treeSums downloads and parses the tree's SHA256SUMS when it has one.
func (s *mirrorGo) treeSums(ctx context.Context, st step, hasSums bool) (map[string]bundle.Digest, []byte, *url.URL, *fetchError) {
	var sums map[string]bundle.Digest
	var sumsData []byte
	sumsURL := child(st.url, "SHA256SUMS", false)
	if hasSums {
		ferr := s.retrying(ctx, "SHA256SUMS", func() *fetchError {
			var ferr *fetchError
			sumsData, _, ferr = s.readSmall(ctx, sumsURL, bundle.MaxSums)
			return ferr
		})
		if ferr != nil {
			return nil, nil, sumsURL, ferr
		}
		var err error
		if sums, err = bundle.ParseSums(sumsData); err != nil {
			return nil, nil, sumsURL, s.integrity(sumsURL, "SHA256SUMS is unusable: "+err.Error(), "re-publish %s with sha256sum", urlString(sumsURL))
		}
	}
	return sums, sumsData, sumsURL, nil
}

// verifyTree checks the downloaded files against SHA256SUMS both ways (or
// computes the manifest digest when there is none) and against the pinned
// digest;
// it returns the tree's digest and how it was verified.
func (s *session) verifyTree(st step, files []treeFile, digests map[string]string, sums map[string]bundle.Digest, sumsData []byte, sumsURL *url.URL) (manifestDigest, source string, how bundle.Verification, _ *fetchError) {
	// Verify against SHA256SUMS, both ways.
	source, how = "none published", VerifiedNone
	if sums != nil {
		source, how = "SHA256SUMS "+urlString(sumsURL), VerifiedSHA256SUMS
		for _, f := range files {
			want, listed := sums[f.rel]
			switch {
			case !listed:
				return "", "", "", s.integrity(f.url, "not listed in "+urlString(sumsURL),
					"the tree on the mirror has files its SHA256SUMS does not cover: re-publish SHA256SUMS")
			case string(want) != digests[f.rel]:
				return "", "", "", s.integrity(f.url, fmt.Sprintf("checksum mismatch: expected %s (from %s), got %s", want, source, digests[f.rel]),
					"the file on the mirror does not match its SHA256SUMS: it is corrupt or was tampered with; re-publish the tree")
			}
		}
		for name := range sums {
			if _, got := digests[name]; !got {
				return "", "", "", s.integrity(sumsURL, fmt.Sprintf("%s is listed but not served", name),
					"the tree on the mirror is incomplete: re-publish it")
			}
		}
		h := sha256.Sum256(sumsData)
		manifestDigest = hex.EncodeToString(h[:])
	} else {
		manifestDigest = canonicalManifestDigest(digests)
	}
	if s.want != "" {
		if s.want != manifestDigest {
			return "", "", "", s.integrity(st.url, fmt.Sprintf("checksum mismatch: expected %s (the pinned digest), got %s (the tree's manifest)", s.want, manifestDigest),
				"for the tree layout the pinned digest is that of its SHA256SUMS (or, without one, of the manifest `sha256sum` prints for its files, sorted)")
		}
		source, how = checksumPinned, VerifiedPinned
	}
	if sums == nil && s.want == "" && s.o.RequireChecksum {
		return "", "", "", s.noTreeSums(st.url)
	}
	if sums == nil && s.want == "" {
		s.log.Warn().Str("url", urlString(st.url)).Str("sha256", manifestDigest).
			Msgf("no checksum published for %s; download is unverified (no digest is pinned)", urlString(st.url))
	} else {
		s.log.Info().Str("url", urlString(st.url)).Str("sha256", manifestDigest).Str("source", source).Int("files", len(files)).Msg("checksum verified")
	}
	return manifestDigest, source, how, nil
}

// noTreeSums is the refusal of a tree at u that publishes no SHA256SUMS
// when a checksum is required.
func (s *session) noTreeSums(u *url.URL) *fetchError {
	fe := s.integrity(u, "no SHA256SUMS published, and a checksum is required",
		"nothing vouches for the tree's bytes: publish SHA256SUMS in %s", urlString(u))
	fe.Suggest(failure.PinDigest)
	return fe
}

// canonicalManifestDigest hashes "<hex>  <path>\n" lines sorted by path:
// what `sha256sum` prints for the tree's files, sorted.
func canonicalManifestDigest(digests map[string]string) string {
	names := make([]string, 0, len(digests))
	for n := range digests {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s  %s\n", digests[n], n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// downloadTree downloads files into root with bounded parallelism and
// returns their digests and total size.
func (s *mirrorGo) downloadTree(ctx context.Context, root *os.Root, files []treeFile) (map[string]string, int64, *fetchError) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One budget for every file, spent as bytes arrive: parallel files
	// cannot together write more than the limit.
	b := &budget{}
	b.left.Store(s.maxBytes)
	t := *s
	t.bud = b
	var (
		mu      sync.Mutex
		digests = map[string]string{}
		total   int64
		first   *fetchError
		wg      sync.WaitGroup
	)
	work := make(chan treeFile)
	fail := func(fe *fetchError) {
		mu.Lock()
		if first == nil {
			first = fe
			cancel()
		}
		mu.Unlock()
	}
	for range min(treeWorkers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				d, n, fe := t.downloadTreeFile(ctx, root, f)
				if fe != nil {
					fail(fe)
					continue
				}
				mu.Lock()
				digests[f.rel] = d
				total += n
				over := total > s.maxBytes
				mu.Unlock()
				if over {
					fail(&fetchError{kind: kOversize, url: urlString(f.url), cause: fmt.Sprintf("the tree is larger than the download limit (%d bytes)", s.maxBytes)})
				}
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first != nil {
		return nil, 0, first
	}
	if len(digests) != len(files) {
		// Only the caller's context can stop the feed without a failure.
		return nil, 0, s.transportError(ctx, files[0].url, ctx.Err(), false)
	}
	return digests, total, nil
}

func (s *mirrorGo) downloadTreeFile(ctx context.Context, root *os.Root, f treeFile) (string, int64, *fetchError) {
	mode := fs.FileMode(0o644)
	if strings.HasPrefix(f.rel, "bin/") {
		mode = 0o755
	}
	name := filepath.FromSlash(f.rel)
	var digest string
	var n int64
	ferr := s.retrying(ctx, "download", func() *fetchError {
		w, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		if err != nil {
			return &fetchError{kind: kLocal, url: urlString(f.url), cause: err.Error(), err: err}
		}
		var ferr *fetchError
		digest, n, ferr = s.download(ctx, f.url, w, s.maxBytes, 0, false)
		if err := w.Chmod(mode); err != nil && ferr == nil {
			ferr = &fetchError{kind: kLocal, url: urlString(f.url), cause: err.Error(), err: err}
		}
		if err := w.Close(); err != nil && ferr == nil {
			ferr = &fetchError{kind: kLocal, url: urlString(f.url), cause: err.Error(), err: err}
		}
		return ferr
	})
	if ferr != nil && ferr.kind == kNotFound {
		ferr.kind, ferr.cause = kFatal, "listed but "+ferr.cause
	}
	return digest, n, ferr
}

// budget is the bytes a tree download may still write.
type budget struct{ left atomic.Int64 }

var errOverBudget = errors.New("over the download limit")

// Write spends len(p) of the budget; it fails once the budget is gone.
func (b *budget) Write(p []byte) (int, error) {
	if b == nil {
		return len(p), nil
	}
	if b.left.Add(-int64(len(p))) < 0 {
		return 0, errOverBudget
	}
	return len(p), nil
}
