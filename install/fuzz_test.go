package install

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
)

// entryModes are the file types FuzzCheckEntry picks from.
var entryModes = []fs.FileMode{0, fs.ModeDir, fs.ModeSymlink, fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice,
	fs.ModeNamedPipe, fs.ModeSocket, fs.ModeIrregular}

// FuzzCheckEntry: whatever the name, type and link target, an accepted
// entry has a clean local name, is a regular file, directory or link, and
// its link target (symlink or hard link) stays inside the archive.
// Seeds: testdata/fuzz/FuzzCheckEntry.
func FuzzCheckEntry(f *testing.F) {
	f.Add("usr/local/slurm/bin/sinfo", uint16(0), uint16(0o755), "", false)
	f.Add("usr/local/slurm/lib/libslurm.so.38", uint16(2), uint16(0o777), "libslurmfull.so", false)
	f.Add("usr/local/slurm/bin/srun", uint16(0), uint16(0o755), "usr/local/slurm/bin/sinfo", true)
	f.Add("/etc/passwd", uint16(0), uint16(0o644), "", false)
	f.Add("a/../../b", uint16(0), uint16(0o644), "", false)
	f.Add("a/link", uint16(2), uint16(0o777), "../../etc", false)
	f.Add("a/hl", uint16(0), uint16(0o644), "../outside", true)
	f.Add("dev/null", uint16(4), uint16(0o666), "", false)
	f.Add("run/sock", uint16(6), uint16(0o666), "", false)
	f.Fuzz(func(t *testing.T, name string, typ, perm uint16, target string, hardlink bool) {
		mode := entryModes[int(typ)%len(entryModes)] | fs.FileMode(perm&0o777)
		if perm&0o4000 != 0 {
			mode |= fs.ModeSetuid
		}
		c, err := CheckEntry(name, mode, target, hardlink)
		if err != nil {
			if !errors.Is(err, errUnsafeEntry) || failure.ClassOf(err) != failure.Archive {
				t.Fatalf("rejection %v is not an archive-class errUnsafeEntry", err)
			}
			return
		}
		if strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
			t.Fatalf("accepted name %q", name)
		}
		for _, part := range strings.Split(name, "/") {
			if part == ".." {
				t.Fatalf("accepted name %q with ..", name)
			}
		}
		if c != "" && (!filepath.IsLocal(c) || path.Clean(c) != c || strings.HasPrefix(c, "/")) {
			t.Fatalf("CheckEntry(%q) = %q: not a clean local path", name, c)
		}
		if c != path.Clean(name) && !(c == "" && path.Clean(name) == ".") {
			t.Fatalf("CheckEntry(%q) = %q, want path.Clean", name, c)
		}
		if mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0 {
			t.Fatalf("accepted %v entry %q", mode.Type(), name)
		}
		if mode&fs.ModeSymlink != 0 {
			if c == "" || target == "" || strings.HasPrefix(target, "/") {
				t.Fatalf("accepted symlink %q -> %q", name, target)
			}
			if r := path.Join(path.Dir(c), target); !filepath.IsLocal(r) {
				t.Fatalf("accepted symlink %q -> %q resolving to %q", name, target, r)
			}
		}
		if hardlink {
			tc := path.Clean(target)
			if target == "" || strings.HasPrefix(target, "/") || !filepath.IsLocal(tc) {
				t.Fatalf("accepted hard link %q -> %q", name, target)
			}
		}
	})
}

// Sockets cannot be expressed in tar, so the CLI scripts cannot reach
// this rule; zip and the tree layout can (a mode with fs.ModeSocket).
func TestCheckEntrySocketAndIrregular(t *testing.T) {
	for _, m := range []fs.FileMode{fs.ModeSocket | 0o777, fs.ModeIrregular | 0o644, fs.ModeNamedPipe | 0o600,
		fs.ModeDevice | 0o660, fs.ModeDevice | fs.ModeCharDevice | 0o666} {
		_, err := CheckEntry("usr/local/slurm/x", m, "", false)
		if !errors.Is(err, errUnsafeEntry) || failure.ClassOf(err) != failure.Archive {
			t.Errorf("mode %v: %v, want an unsafe-entry archive error", m, err)
		}
	}
	// setuid is not a reason to reject: the extractor drops it with a warning.
	if _, err := CheckEntry("usr/local/slurm/bin/sinfo", fs.ModeSetuid|fs.ModeSetgid|0o755, "", false); err != nil {
		t.Errorf("setuid entry rejected: %v", err)
	}
}
