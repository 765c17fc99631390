// Package safeio reads local inputs that a user or an image names (a key
// file, a CA bundle, a --from bundle, a file:// mirror, a root's /bin/sh)
// without trusting them to be ordinary files: it opens without blocking
// (O_NONBLOCK, so a FIFO cannot hang the run before any deadline applies),
// refuses anything but a regular file, and caps how much it reads (so
// /dev/zero or a huge file cannot exhaust memory).
package safeio

import (
	"context"
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
	// A regular file: reads never block, so blocking mode comes back (the
	// runtime poller is not involved either way).
	if sc, err := f.SyscallConn(); err == nil {
		_ = sc.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), false) })
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

// ReadFileIn is the one reader of a file inside a target root (the
// receipt, the journal, a config file the installer merges into or
// removes, the lock's holder): name is opened inside root without
// following a link at its last component (O_NOFOLLOW: a state file planted
// as a link to /dev/zero or to another file is refused, not read), without
// blocking (O_NONBLOCK: a FIFO is refused by fstat, never waited on), must
// be a regular file, is read in chunks that stop when ctx is done, and is
// refused when it holds more than limit bytes.
func ReadFileIn(ctx context.Context, root *os.Root, name string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	f, err := OpenInNoFollow(root, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllCtx(ctx, f, name, limit)
}

// OpenInNoFollow opens the regular file name inside root for reading,
// refusing a link at its last component: os.Root follows a link that stays
// inside the root even with O_NOFOLLOW, so the name is checked with Lstat
// before the open and the file opened must be the one Lstat saw.
func OpenInNoFollow(root *os.Root, name string) (*os.File, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(fi.Mode()))}
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (a symlink)", ErrNotRegular)}
	}
	if err != nil {
		return nil, err
	}
	f, opened, err := check(f, name)
	if err != nil {
		return nil, err
	}
	if !os.SameFile(fi, opened) {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (replaced while it was opened)", ErrNotRegular)}
	}
	return f, nil
}

// ReadFileCtx is [ReadFile] for a host path named by a flag or variable,
// stopping when ctx is done.
func ReadFileCtx(ctx context.Context, name string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	f, _, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllCtx(ctx, f, name, limit)
}

// readAllCtx reads f in chunks, checking ctx between them.
func readAllCtx(ctx context.Context, f *os.File, name string, limit int64) ([]byte, error) {
	var out []byte
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if int64(len(out)) > limit {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w (over %d bytes)", ErrTooLarge, limit)}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
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
