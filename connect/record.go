package connect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/safeio"
)

// RecordPath is where connect records what it did, in the root.
const RecordPath = "/var/lib/slurm-installer/connect.json"

// SiteConf is SLURM's configuration file in the root: what every client
// command reads first, with no environment variable.
const SiteConf = "/etc/slurm/slurm.conf"

// Record is what the last connect did and found (status reads it).
type Record struct {
	Schema     int       `json:"schema"`
	Controller string    `json:"controller"`
	Connected  bool      `json:"connected"`
	Checked    time.Time `json:"checked"`
	Source     string    `json:"source,omitempty"` // configless, url <u>, site
	Auth       string    `json:"auth,omitempty"`   // munge socket /run/munge/munge.socket.2
	Nodes      string    `json:"nodes,omitempty"`
	Error      string    `json:"error,omitempty"`
	Files      []File    `json:"files,omitempty"`
	Links      []Link    `json:"links,omitempty"`
	Dirs       []string  `json:"dirs,omitempty"` // directories connect created (removed when empty)
}

// File is a file connect wrote.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Backup string `json:"backup,omitempty"` // where what stood there before was moved
}

// Link is a link connect made (a plugin directory the cluster names).
type Link struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// reOurSackd: a sackd run from one of the installer's versioned payload
// directories (.<base>-<version>-<8 hex>).
var reOurSackd = regexp.MustCompile(`/\.[^/]+-[0-9a-f]{8}/sbin/sackd$`)

var reBackup = regexp.MustCompile(`^\.slurm-installer-backup\.[0-9a-f]{8}\.[^/]+$`)

func rel(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func validPath(p string) bool {
	return strings.HasPrefix(p, "/") && p != "/" && path.Clean(p) == p && !strings.ContainsAny(p, "\x00\n\r")
}

// ReadRecord reads the root's connect record: (nil, nil) when there is
// none. The record is inside the root, so it is validated: only
// SiteConf may be a file of ours, links must be clean absolute paths, and
// backups sit beside what they replaced.
func ReadRecord(root *os.Root) (*Record, error) {
	// The safe reader (issue 23): no link, no FIFO or device, capped.
	b, err := safeio.ReadFileIn(context.Background(), root, rel(RecordPath), 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, failure.New(failure.FileSystem, "read %s: %w", RecordPath, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, failure.New(failure.FileSystem, "%s is not one connect wrote: %w", RecordPath, err).
			WithHint("move %s away and connect again", RecordPath)
	}
	for _, fl := range r.Files {
		bad := fl.Path != SiteConf || len(fl.SHA256) != 64
		if fl.Backup != "" && (path.Dir(fl.Backup) != path.Dir(fl.Path) || !reBackup.MatchString(path.Base(fl.Backup))) {
			bad = true
		}
		if bad {
			return nil, failure.New(failure.FileSystem, "%s lists %q, which is not a file connect writes", RecordPath, fl.Path).
				WithHint("move %s away and connect again", RecordPath)
		}
	}
	for _, l := range r.Links {
		if !validPath(l.Path) || !validPath(l.Target) || strings.HasPrefix(l.Path, "/etc/") || strings.HasPrefix(l.Path, "/var/lib/slurm-installer") {
			return nil, failure.New(failure.FileSystem, "%s lists the link %q, which is not one connect makes", RecordPath, l.Path).
				WithHint("move %s away and connect again", RecordPath)
		}
	}
	for _, d := range r.Dirs {
		if d != "/run/slurm" {
			return nil, failure.New(failure.FileSystem, "%s lists the directory %q, which is not one connect creates", RecordPath, d).
				WithHint("move %s away and connect again", RecordPath)
		}
	}
	return &r, nil
}

// writeRecord writes r atomically.
func writeRecord(root *os.Root, r *Record) error {
	r.Schema = 1
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return failure.Wrap(failure.Internal, err)
	}
	return writeAtomic(root, RecordPath, append(b, '\n'), 0o644)
}

// writeAtomic writes p through a temp file beside it and a rename.
func writeAtomic(root *os.Root, p string, data []byte, perm fs.FileMode) error {
	if err := root.MkdirAll(rel(path.Dir(p)), 0o755); err != nil {
		return failure.New(failure.FileSystem, "create %s: %w", path.Dir(p), err)
	}
	tmp := path.Join(path.Dir(p), ".slurm-installer-tmp."+randomID())
	f, err := root.OpenFile(rel(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return failure.New(failure.FileSystem, "write %s: %w", p, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(rel(tmp), rel(p))
	}
	if err != nil {
		_ = root.Remove(rel(tmp))
		return failure.New(failure.FileSystem, "write %s: %w", p, err)
	}
	return nil
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ours says whether the file at p is the one prev recorded (unchanged).
func ours(root *os.Root, prev *Record, p string) (File, bool) {
	if prev == nil {
		return File{}, false
	}
	for _, f := range prev.Files {
		if f.Path != p {
			continue
		}
		b, err := readBounded(root, p, 4<<20)
		if err == nil && sum(b) == f.SHA256 {
			return f, true
		}
	}
	return File{}, false
}

// readBounded reads the regular file p in the root, at most limit bytes.
func readBounded(root *os.Root, p string, limit int64) ([]byte, error) {
	return safeio.ReadFileIn(context.Background(), root, rel(p), limit) // no link, no FIFO, capped
}

// Undo takes out what the recorded connects wrote: its slurm.conf when it
// is unchanged (a changed one is kept and named), the links when they still
// point where connect pointed them, and puts back what a forced connect
// moved aside. It returns notes for the log. No record: nothing to do.
func Undo(rootDir string) ([]string, error) {
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "open the root: %w", err)
	}
	defer root.Close()
	r, err := ReadRecord(root)
	if err != nil || r == nil {
		return nil, err
	}
	var notes []string
	for _, f := range r.Files {
		b, err := readBounded(root, f.Path, 4<<20)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err == nil && sum(b) == f.SHA256:
			if err := root.Remove(rel(f.Path)); err != nil {
				return notes, failure.New(failure.FileSystem, "remove %s: %w", f.Path, err)
			}
			notes = append(notes, "removed "+f.Path+" (written by connect)")
		default:
			notes = append(notes, "kept "+f.Path+": it was changed after connect wrote it")
			continue
		}
		if f.Backup != "" {
			if err := root.Rename(rel(f.Backup), rel(f.Path)); err != nil {
				notes = append(notes, fmt.Sprintf("could not put back %s from %s: %v", f.Path, f.Backup, err))
			} else {
				notes = append(notes, "restored "+f.Path+" from its backup")
			}
		}
	}
	for _, l := range r.Links {
		if t, err := root.Readlink(rel(l.Path)); err == nil && t == l.Target {
			if err := root.Remove(rel(l.Path)); err != nil {
				return notes, failure.New(failure.FileSystem, "remove %s: %w", l.Path, err)
			}
			notes = append(notes, "removed the link "+l.Path+" (made by connect)")
		}
	}
	if n := stopSackd(rootDir, r.Source); n > 0 {
		notes = append(notes, fmt.Sprintf("stopped the sackd connect started (%d process(es))", n))
	}
	for _, d := range r.Dirs {
		// /run/slurm: connect made it for sackd, whose runtime cache it holds.
		if err := root.RemoveAll(rel(d)); err == nil {
			notes = append(notes, "removed "+d+" (made by connect for sackd)")
		}
	}
	if err := root.Remove(rel(RecordPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return notes, failure.New(failure.FileSystem, "remove %s: %w", RecordPath, err)
	}
	return notes, nil
}

// Peek reads the connect record of the root at rootDir (nil when the root
// was never connected).
func Peek(rootDir string) (*Record, error) {
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "open the root: %w", err)
	}
	defer root.Close()
	return ReadRecord(root)
}

// stopSackd stops the sackd connect started: processes running chrooted in
// rootDir (or, for "/", in this one's root) from the sbin/sackd of one of
// the installer's payload directories (never a site's own sackd), when the
// record says connect used one. It waits (5 s at most) until they are
// gone and returns how many it found.
func stopSackd(rootDir, source string) int {
	if source != SourceSackd {
		return 0
	}
	abs, err := filepath.Abs(rootDir)
	if err != nil {
		return 0
	}
	self, _ := os.Readlink("/proc/self/root")
	if abs == "/" {
		abs = self
	}
	find := func() []int {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			r, err := os.Readlink("/proc/" + e.Name() + "/root")
			if err != nil || r != abs {
				continue
			}
			if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && reOurSackd.MatchString(exe) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	pids := find()
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	for i := 0; i < 50 && len(find()) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return len(pids)
}
