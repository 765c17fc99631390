package fetch

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"
	"syscall"

	"slurm-installer/internal/safeio"
)

// A file:// mirror is confined to its directory (issue 13): every file and
// listing is opened through an [os.Root] on the mirror's base directory
// (the directory of a direct file URL), so neither a symlink nor ".." can
// make the run copy a host file into the image or print one in an error.
// Only regular files are read, opened without blocking (package safeio): a
// FIFO cannot hang the run.

// fileRoot opens dir, the directory u is confined to (mirrorGo.dir), and
// returns the path of u relative to it.
func fileRoot(dir string, u *url.URL) (*os.Root, string, *fetchError) {
	if dir == "" {
		dir = "/" // a caller without a mirror (tests): at least no FIFOs
	}
	p := path.Clean(u.Path)
	rel := "."
	if p != dir {
		var ok bool
		rel, ok = strings.CutPrefix(p, strings.TrimSuffix(dir, "/")+"/")
		if !ok {
			return nil, "", notFound(u, "outside the mirror directory "+dir)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", notFound(u, "no such directory "+dir)
		}
		return nil, "", &fetchError{kind: kNotFound, url: urlString(u), cause: err.Error(), err: err}
	}
	return root, rel, nil
}

// localError maps an error opening a file inside the mirror's root.
func localError(u *url.URL, err error) *fetchError {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &fetchError{kind: kNotFound, url: urlString(u), cause: "no such file", err: err}
	case errors.Is(err, safeio.ErrNotRegular):
		return &fetchError{kind: kNotFound, url: urlString(u), cause: "not a regular file", err: err}
	case strings.Contains(err.Error(), "escapes"):
		// os.Root: a symlink or ".." leading out of the mirror directory.
		return &fetchError{kind: kNotFound, url: urlString(u), cause: "leads outside the mirror directory (refused)", err: err}
	}
	return &fetchError{kind: kNotFound, url: urlString(u), cause: err.Error(), err: err}
}

func (s *mirrorGo) openFile(u *url.URL) (*body, *fetchError) {
	root, rel, ferr := fileRoot(s.dir, u)
	if ferr != nil {
		return nil, ferr
	}
	defer root.Close()
	f, fi, err := safeio.OpenIn(root, rel)
	if err != nil {
		return nil, localError(u, err)
	}
	return &body{r: f, size: fi.Size(), close: func() { f.Close() }}, nil
}

// listFile lists a file:// directory inside the mirror's root: only
// regular files and directories, symlinks followed only within the root.
func (s *mirrorGo) listFile(u *url.URL) ([]entry, *fetchError) {
	root, rel, ferr := fileRoot(s.dir, u)
	if ferr != nil {
		return nil, ferr
	}
	defer root.Close()
	d, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0) // a FIFO there is refused, never waited on
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFound(u, "no such directory")
		}
		return nil, localError(u, err)
	}
	des, err := d.ReadDir(maxTreeFiles + 1)
	d.Close()
	if err != nil && len(des) == 0 {
		return nil, localError(u, err)
	}
	var out []entry
	for _, de := range des {
		if !safeName(de.Name()) {
			continue
		}
		fi, err := root.Stat(path.Join(rel, de.Name())) // follows links inside the root only
		if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) {
			continue
		}
		e := entry{Name: de.Name(), Dir: fi.IsDir(), Size: -1}
		if !e.Dir {
			e.Size = fi.Size()
		}
		out = append(out, e)
	}
	return out, nil
}
