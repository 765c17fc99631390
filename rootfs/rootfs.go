package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slurm-installer/internal/safeio"
	"sort"
	"strings"
	"syscall"
)

// maxSymlinks is how many symlinks one lookup may follow, as in the kernel.
const maxSymlinks = 40

// FS is a target root file system, looked at read-only with chroot semantics.
type FS struct {
	// Dir is the host directory that is "/" for the target.
	Dir string
}

// New returns the FS rooted at dir ("" means "/"). A relative dir is made
// absolute against the working directory.
func New(dir string) *FS {
	if dir == "" {
		dir = "/"
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &FS{Dir: filepath.Clean(dir)}
}

// host maps a clean in-root path ("/a/b") to its host path.
func (r *FS) host(inRoot string) string {
	return filepath.Join(r.Dir, filepath.FromSlash(inRoot))
}

// HostPath maps an in-root path to the host path without following any
// link: the result is lexically inside Dir ("/../x" is "/x").
func (r *FS) HostPath(p string) string { return r.host(clean(p)) }

// clean makes p an absolute, clean in-root path; ".." at "/" stays at "/".
func clean(p string) string { return path.Clean("/" + p) }

// walk resolves p inside the root and returns the resolved in-root path.
// When followLast is false, a symlink in the last component is not
// followed (lstat semantics). Every component but the last must exist; the
// last must exist too when mustExist is set.
func (r *FS) walk(p string, followLast, mustExist bool) (string, error) {
	op := "resolve"
	rest := splitPath(p)
	cur := []string{} // resolved components, no links, no dots
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		next := "/" + strings.Join(append(cur[:len(cur):len(cur)], c), "/")
		last := len(rest) == 0 || allDots(rest)
		fi, err := os.Lstat(r.host(next))
		if err != nil {
			if last && !mustExist && errors.Is(err, fs.ErrNotExist) {
				cur = append(cur, c)
				continue
			}
			return "", &fs.PathError{Op: op, Path: p, Err: underlying(err)}
		}
		if fi.Mode()&fs.ModeSymlink != 0 && (!last || followLast) {
			hops++
			if hops > maxSymlinks {
				return "", &fs.PathError{Op: op, Path: p, Err: syscall.ELOOP}
			}
			target, err := os.Readlink(r.host(next))
			if err != nil {
				return "", &fs.PathError{Op: op, Path: p, Err: underlying(err)}
			}
			if strings.HasPrefix(target, "/") {
				cur = cur[:0]
			}
			rest = append(splitPath(target), rest...)
			continue
		}
		if !last && !fi.IsDir() {
			return "", &fs.PathError{Op: op, Path: p, Err: syscall.ENOTDIR}
		}
		cur = append(cur, c)
	}
	return "/" + strings.Join(cur, "/"), nil
}

func splitPath(p string) []string { return strings.Split(p, "/") }

func allDots(cs []string) bool {
	for _, c := range cs {
		if c != "" && c != "." {
			return false
		}
	}
	return true
}

// underlying strips an *fs.PathError so errors carry the in-root path, not
// the host one.
func underlying(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Canonical resolves every symlink in p and returns the in-root path the
// kernel would open inside chroot ("/lib64/ld-linux-x86-64.so.2" on Debian
// is "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"). The file must exist.
func (r *FS) Canonical(p string) (string, error) { return r.walk(p, true, true) }

// Resolve resolves p inside the root, following symlinks the way the kernel
// does inside chroot, and returns the host path of the file. The file must
// exist. The result is always Dir or below it.
func (r *FS) Resolve(p string) (string, error) {
	c, err := r.walk(p, true, true)
	if err != nil {
		return "", err
	}
	return r.host(c), nil
}

// ResolveParent resolves every component of p but the last, which is
// neither followed nor required to exist, and returns its host path: the
// path to lstat, readlink or create.
func (r *FS) ResolveParent(p string) (string, error) {
	c, err := r.walk(p, false, false)
	if err != nil {
		return "", err
	}
	return r.host(c), nil
}

// Stat is os.Stat inside the root: symlinks are followed.
func (r *FS) Stat(p string) (fs.FileInfo, error) {
	h, err := r.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.Stat(h)
}

// Lstat is os.Lstat inside the root: a symlink in the last component is
// reported, not followed.
func (r *FS) Lstat(p string) (fs.FileInfo, error) {
	c, err := r.walk(p, false, true)
	if err != nil {
		return nil, err
	}
	return os.Lstat(r.host(c))
}

// Readlink returns the target of the symlink p, as stored.
func (r *FS) Readlink(p string) (string, error) {
	h, err := r.ResolveParent(p)
	if err != nil {
		return "", err
	}
	return os.Readlink(h)
}

// Exists reports whether p exists inside the root, following symlinks (a
// dangling link does not exist).
func (r *FS) Exists(p string) bool {
	_, err := r.Stat(p)
	return err == nil
}

// IsRegular reports whether p resolves to a regular file.
func (r *FS) IsRegular(p string) bool {
	fi, err := r.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Open opens p for reading if it is a regular file: a FIFO or a device
// at /bin/sh is refused without blocking (see package safeio).
func (r *FS) Open(p string) (*os.File, error) {
	h, err := r.Resolve(p)
	if err != nil {
		return nil, err
	}
	f, _, err := safeio.Open(h)
	return f, err
}

// maxReadFile caps ReadFile (os-release, linker paths: small text files).
const maxReadFile = 16 << 20

// ReadFile reads the regular file p, at most maxReadFile bytes.
func (r *FS) ReadFile(p string) ([]byte, error) {
	h, err := r.Resolve(p)
	if err != nil {
		return nil, err
	}
	return safeio.ReadFile(h, maxReadFile)
}

// ReadDir lists the directory p, sorted by name.
func (r *FS) ReadDir(p string) ([]fs.DirEntry, error) {
	h, err := r.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(h)
}

// Glob returns the in-root paths that match pattern (path.Match syntax in
// any component), sorted. Directories on the way are resolved with chroot
// semantics; the names returned are as matched, not resolved. A bad
// pattern is an error; no match is not.
func (r *FS) Glob(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	matches := []string{"/"}
	for _, c := range splitPath(clean(pattern)) {
		if c == "" {
			continue
		}
		var next []string
		for _, dir := range matches {
			if !hasMeta(c) {
				p := path.Join(dir, c)
				if _, err := r.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			ents, err := r.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if ok, _ := path.Match(c, e.Name()); ok {
					next = append(next, path.Join(dir, e.Name()))
				}
			}
		}
		matches = next
	}
	sort.Strings(matches)
	return matches, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }
