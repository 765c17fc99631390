package install

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"slurm-installer/internal/failure"
)

// errUnsafeEntry is wrapped by every rejection of an archive entry.
var errUnsafeEntry = errors.New("unsafe archive entry")

// Entry is one file, directory or symlink written during extraction.
type Entry struct {
	Path   string      `json:"path"` // slash-separated, relative to the extraction root
	Type   string      `json:"type"` // "file", "dir", "symlink"
	Mode   fs.FileMode `json:"mode"` // permission bits as written
	Size   int64       `json:"size,omitempty"`
	SHA256 string      `json:"sha256,omitempty"`
	Target string      `json:"target,omitempty"` // symlink target
}

// entry is the format-neutral view of an archive member.
type entry struct {
	name     string
	mode     fs.FileMode
	hardlink string // target of a hard link, "" otherwise
	linkDest string // symlink target
	open     func() (io.ReadCloser, error)
}

type extractor struct {
	root    *os.Root
	limits  Limits
	log     zerolog.Logger
	entries map[string]*Entry
	dirs    map[string]*os.Root // open parent directories, see at
	count   int
	written int64
	buf     []byte // the copy buffer every file is written through
}

func unsafeEntry(name, format string, args ...any) error {
	return failure.New(failure.Archive, "archive entry %q: %s: %w", name, fmt.Sprintf(format, args...), errUnsafeEntry).
		WithHint("the bundle is malformed or hostile: ask its publisher to rebuild it").Suggest(failure.Repack)
}

// ExtractArchive reads the archive at file (format declared by its name,
// see archiveFormat) and writes its entries below dir, which must exist and be
// empty. It returns the entries written, sorted by path.
func ExtractArchive(ctx context.Context, file, dir string, limits Limits, log zerolog.Logger) ([]Entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	defer f.Close()
	format, err := archiveFormat(file, f)
	if err != nil {
		return nil, err
	}
	x, err := newExtractor(dir, limits, log)
	if err != nil {
		return nil, err
	}
	defer x.close()
	err = walkArchive(ctx, f, format, func(m archiveMember) error { return x.add(ctx, m.entry) })
	if err == nil {
		err = x.checkLinks()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, classifyExtractErr(file, err)
	}
	return x.list(), nil
}

// extractTree copies a directory tree (the tree layout, already verified
// file by file) below dir with the same entry rules as an archive.
func extractTree(ctx context.Context, src, dir string, limits Limits, log zerolog.Logger) ([]Entry, error) {
	x, err := newExtractor(dir, limits, log)
	if err != nil {
		return nil, err
	}
	defer x.close()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{name: filepath.ToSlash(rel), mode: info.Mode(), open: func() (io.ReadCloser, error) { return os.Open(p) }}
		if info.Mode()&fs.ModeSymlink != 0 {
			if e.linkDest, err = os.Readlink(p); err != nil {
				return err
			}
		}
		return x.add(ctx, e)
	})
	if err == nil {
		err = x.checkLinks()
	}
	if err != nil {
		return nil, classifyExtractErr(src, err)
	}
	return x.list(), nil
}

// checkLinks resolves every symlink through the links extracted with it
// (in any order) and rejects one that ends outside the extraction root:
// a lexical check alone misses chains such as b -> . with c -> a/b/../../x.
func (x *extractor) checkLinks() error {
	for _, e := range x.entries {
		if e.Type != "symlink" {
			continue
		}
		if _, err := resolveLinks(x.entries, path.Dir(e.Path)+"/"+e.Target, 0); err != nil {
			return unsafeEntry(e.Path, "symlink to %q: %v", e.Target, err)
		}
	}
	return nil
}

// resolveLinks resolves p (relative, not cleaned: "a/b/.." must go through b to the extraction root) component by
// component through the symlinks among entries; an error means it leaves
// the root or loops.
func resolveLinks(entries map[string]*Entry, p string, depth int) (string, error) {
	if depth > 40 {
		return "", errors.New("too many levels of symbolic links")
	}
	cur := ""
	parts := strings.Split(p, "/")
	for i, part := range parts {
		switch part {
		case "", ".":
			continue
		case "..":
			if cur == "" {
				return "", errors.New("leaves the archive")
			}
			cur = path.Dir(cur)
			if cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, part)
		if e, ok := entries[next]; ok && e.Type == "symlink" {
			if strings.HasPrefix(e.Target, "/") {
				return "", errors.New("goes through an absolute symlink")
			}
			r, err := resolveLinks(entries, cur+"/"+e.Target, depth+1)
			if err != nil {
				return "", err
			}
			rest := strings.Join(parts[i+1:], "/")
			return resolveLinks(entries, r+"/"+rest, depth+1)
		}
		cur = next
	}
	return cur, nil
}

func classifyExtractErr(src string, err error) error {
	var fe *failure.Error
	if errors.As(err, &fe) {
		return err
	}
	if isNoSpace(err) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return failure.New(failure.FileSystem, "extract %s: %w", filepath.Base(src), err)
	}
	return failure.New(failure.Archive, "extract %s: %w", filepath.Base(src), err).
		WithHint("the archive is corrupt or truncated; fetch it again, or check the mirror's copy")
}

func newExtractor(dir string, limits Limits, log zerolog.Logger) (*extractor, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	return &extractor{root: root, limits: limits.withDefaults(), log: log, entries: map[string]*Entry{}, dirs: map[string]*os.Root{}}, nil
}

// maxDirHandles caps the directory handles an extraction keeps open.
const maxDirHandles = 64

// at is the directory handle name is written through, and its base name:
// the parent is made once (MkdirAll) and kept open as an os.Root, so an
// entry costs one openat instead of one per path component twice over
// (MkdirAll's walk, then the create's). A handle is opened through the
// extraction root and can only reach below it; parents are never links
// (add checks), so the directory a handle names is the one the path
// names. Past maxDirHandles directories, the root and the full path are used.
func (x *extractor) at(name string) (*os.Root, string, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return x.root, base, nil
	}
	if r, ok := x.dirs[dir]; ok {
		return r, base, nil
	}
	if err := x.root.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	if len(x.dirs) >= maxDirHandles {
		return x.root, name, nil
	}
	r, err := x.root.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	x.dirs[dir] = r
	return r, base, nil
}

// close closes the directory handles and the root.
func (x *extractor) close() {
	for _, r := range x.dirs {
		r.Close()
	}
	x.root.Close()
}

func (x *extractor) list() []Entry {
	out := make([]Entry, 0, len(x.entries))
	for _, e := range x.entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// cleanName validates an archive member name and returns its clean,
// slash-separated relative form ("" for the archive root itself).
func cleanName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", unsafeEntry(name, "empty name or NUL byte")
	}
	if strings.HasPrefix(name, "/") {
		return "", unsafeEntry(name, "absolute path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", unsafeEntry(name, "path contains ..")
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	if !filepath.IsLocal(c) {
		return "", unsafeEntry(name, "path is not local")
	}
	return c, nil
}

// CheckEntry applies the entry rules of docs/DESIGN.md §6 that do not depend on
// other entries: name, type, and where a link points. It is what pack and the
// extractor share.
func CheckEntry(name string, mode fs.FileMode, linkTarget string, hardlink bool) (string, error) {
	c, err := cleanName(name)
	if err != nil {
		return "", err
	}
	switch {
	case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return "", unsafeEntry(name, "device file")
	case mode&fs.ModeNamedPipe != 0:
		return "", unsafeEntry(name, "FIFO")
	case mode&fs.ModeSocket != 0:
		return "", unsafeEntry(name, "socket")
	case mode&fs.ModeIrregular != 0:
		return "", unsafeEntry(name, "irregular file")
	}
	if hardlink {
		t, err := cleanName(linkTarget)
		if err != nil || t == "" {
			return "", unsafeEntry(name, "hard link to %q leaves the archive", linkTarget)
		}
	}
	if mode&fs.ModeSymlink != 0 {
		if linkTarget == "" || strings.HasPrefix(linkTarget, "/") {
			return "", unsafeEntry(name, "symlink to absolute path %q", linkTarget)
		}
		if c == "" {
			return "", unsafeEntry(name, "symlink at the archive root")
		}
		resolved := path.Join(path.Dir(c), linkTarget)
		if !filepath.IsLocal(resolved) {
			return "", unsafeEntry(name, "symlink to %q leaves the archive", linkTarget)
		}
	}
	return c, nil
}

func (x *extractor) add(ctx context.Context, e entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x.count++
	if x.count > x.limits.MaxEntries {
		return failure.New(failure.Archive, "archive has more than %d entries: %w", x.limits.MaxEntries, errUnsafeEntry).
			Suggest(failure.RaiseMaxEntries)
	}
	name, err := CheckEntry(e.name, e.mode, cmp.Or(e.hardlink, e.linkDest), e.hardlink != "")
	if err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	if prev, dup := x.entries[name]; dup {
		if prev.Type == "dir" && e.mode.IsDir() {
			return nil
		}
		return unsafeEntry(e.name, "duplicate entry (already a %s)", prev.Type)
	}
	// A parent must not be a symlink: writing through links is how archives escape.
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if pe, ok := x.entries[p]; ok && pe.Type != "dir" {
			return unsafeEntry(e.name, "parent %q is a %s, not a directory", p, pe.Type)
		}
	}
	at, base, err := x.at(name)
	if err != nil {
		return err
	}
	perm := e.mode.Perm()
	if e.mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		x.log.Warn().Str("entry", name).Msg("dropped setuid/setgid/sticky bits from archive entry")
	}
	switch {
	case e.mode.IsDir():
		if err := at.Mkdir(base, perm|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		x.entries[name] = &Entry{Path: name, Type: "dir", Mode: perm | 0o700}
	case e.mode&fs.ModeSymlink != 0:
		if err := at.Symlink(e.linkDest, base); err != nil {
			return err
		}
		x.entries[name] = &Entry{Path: name, Type: "symlink", Target: e.linkDest, Mode: 0o777}
	case e.hardlink != "":
		target := path.Clean(e.hardlink)
		te, ok := x.entries[target]
		if !ok || te.Type != "file" {
			return unsafeEntry(e.name, "hard link to %q, which is not a regular file earlier in the archive", e.hardlink)
		}
		if err := x.root.Link(target, name); err != nil {
			return err
		}
		cp := *te
		cp.Path = name
		x.entries[name] = &cp
	case e.mode.IsRegular():
		sum, n, err := x.writeFile(at, base, name, perm, e.open)
		if err != nil {
			return err
		}
		x.entries[name] = &Entry{Path: name, Type: "file", Mode: perm, Size: n, SHA256: sum}
	default:
		return unsafeEntry(e.name, "unsupported file type %v", e.mode.Type())
	}
	return nil
}

// writeFile writes the entry name as base in its directory at.
func (x *extractor) writeFile(at *os.Root, base, name string, perm fs.FileMode, open func() (io.ReadCloser, error)) (string, int64, error) {
	src, err := open()
	if err != nil {
		return "", 0, err
	}
	defer src.Close()
	dst, err := at.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o200)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	remaining := x.limits.MaxSize - x.written
	if x.buf == nil {
		x.buf = make([]byte, 64<<10)
	}
	n, err := io.CopyBuffer(io.MultiWriter(dst, h), io.LimitReader(src, remaining+1), x.buf)
	x.written += n
	if err == nil && n > remaining {
		err = failure.New(failure.Archive, "archive expands to more than %d bytes (at %q): %w", x.limits.MaxSize, name, errUnsafeEntry).
			Suggest(failure.RaiseMaxSize)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && perm&0o200 == 0 {
		err = at.Chmod(base, perm)
	}
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
