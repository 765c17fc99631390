package install

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"slurm-installer/internal/failure"
)

// unpackedSize is what src needs on disk once extracted: regular file sizes
// rounded up to blocks of 4 KiB, plus one block per other entry. For an
// archive it reads the headers (a compressed tar is decompressed once,
// without writing anything). ok is false when it cannot tell; extraction
// then reports the problem.
func unpackedSize(ctx context.Context, src Source) (need int64, entries int64, ok bool) {
	const block = 4096
	round := func(n int64) int64 { return (n + block - 1) / block * block }
	if src.Tree {
		err := filepath.WalkDir(src.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			need += block
			entries++
			if fi.Mode().IsRegular() {
				need += round(fi.Size())
			}
			return nil
		})
		return need, entries, err == nil
	}
	f, err := os.Open(src.Path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	format, err := archiveFormat(src.Path, f)
	if err != nil {
		return 0, 0, false
	}
	err = walkArchive(ctx, f, format, func(m archiveMember) error {
		need += block
		entries++
		if m.mode.IsRegular() {
			need += round(m.size)
		}
		return nil
	})
	return need, entries, err == nil
}

// freeBytes is the space an unprivileged writer can use on the file system
// holding the host path p.
func freeBytes(p string) (int64, bool) {
	var s unix.Statfs_t
	if err := unix.Statfs(p, &s); err != nil {
		return 0, false
	}
	return int64(s.Bavail) * int64(s.Bsize), true
}

func freeInodes(p string) uint64 {
	var s unix.Statfs_t
	if err := unix.Statfs(p, &s); err != nil {
		return 0
	}
	return s.Ffree
}

// noSpace is the class-7 error for a bundle that does not fit beside the
// prefix: it names the directory (in the root and on the host), the space
// the bundle needs and what is free.
func (in *Installer) noSpace(dir string, need, entries int64, cause error) error {
	where := dir
	if in.opt.RootDir != "/" {
		where = fmt.Sprintf("%s (%s on the host)", dir, in.HostPath(dir))
	}
	free, _ := freeBytes(in.HostPath(dir))
	msg := fmt.Sprintf("not enough space in %s: the bundle needs %s unpacked (%d bytes), %s is free", where, human(need), need, human(free))
	if need <= 0 {
		msg = fmt.Sprintf("not enough space in %s: %s is free", where, human(free))
	}
	var e *failure.Error
	if cause != nil {
		e = failure.New(failure.FileSystem, "%s: %w", msg, cause)
	} else {
		e = failure.New(failure.FileSystem, "%s", msg)
	}
	if need > 0 && free >= need {
		return e.WithHint("the bytes fit but the file system holding %s ran out of inodes (%d free; the bundle has %d entries): free some", dir, freeInodes(in.HostPath(dir)), entries).Suggest(failure.OtherPrefix)
	}
	return e.WithHint("free at least %s on the file system holding %s (the previous install stays until the new one is verified, so both must fit)", human(need-free), dir).Suggest(failure.OtherPrefix)
}

func human(n int64) string {
	switch {
	case n < 0:
		return "0 B"
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
