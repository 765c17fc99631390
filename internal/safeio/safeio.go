// Package safeio reads local inputs that a user or an image names (a key
// file, a CA bundle, a --from bundle, a file:// mirror, a root's /bin/sh)
// without trusting them to be ordinary files: it opens without blocking
// (O_NONBLOCK, so a FIFO cannot hang the run before any deadline applies),
// refuses anything but a regular file, and caps how much it reads (so
// /dev/zero or a huge file cannot exhaust memory).
package safeio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrNotRegular is returned for a FIFO, device, socket or directory.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned when a file holds more than the cap.
var ErrTooLarge = errors.New("file too large")

// Open opens name for reading if it is a regular file. The open does not
// block (O_NONBLOCK: a FIFO with no writer opens at once, and is then
// refused by fstat), so no path given by a user can hang the run.
func Open(name string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	return check(f, name)
}

// OpenIn is Open inside root: the path cannot escape it (symlinks and
// ".." are resolved within root, see [os.Root]).
func OpenIn(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	return check(f, name)
}

func check(f *os.File, name string) (*os.File, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(fi.Mode()))}
	}
	return f, fi, nil
}

// ReadFile reads the regular file name, refusing one of more than limit bytes.
func ReadFile(name string, limit int64) ([]byte, error) {
	f, _, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, name, limit)
}

// readFileIn is ReadFile inside root.
func readFileIn(root *os.Root, name string, limit int64) ([]byte, error) {
	f, _, err := OpenIn(root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, name, limit)
}

func readAll(f *os.File, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w (over %d bytes)", ErrTooLarge, limit)}
	}
	return b, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return m.Type().String()
}

// WriteFileAtomic writes what r yields to path, all or nothing: a temp file
// beside it (same file system), mode perm, synced, then renamed over path;
// on any error the temp file is removed and path is as it was. It is the
// installer's one atomic write for host paths (writes inside a target root
// go through os.Root in package install).
func WriteFileAtomic(path string, r io.Reader, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
