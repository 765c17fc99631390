package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/safeio"
)

// ReceiptPath is the receipt's in-root path.
const ReceiptPath = stateDir + "/receipt.json"

// Modes of an install.
const (
	ModeReal = "real"
	ModeDemo = "demo"
)

// Receipt records what an install did (docs/DESIGN.md §5).
type Receipt struct {
	Schema         int           `json:"schema"`
	Mode           string        `json:"mode"`
	Reason         string        `json:"reason,omitempty"`
	FailureClass   string        `json:"failure_class,omitempty"`
	Version        string        `json:"version,omitempty"`
	Requested      string        `json:"requested_version,omitempty"`
	Arch           string        `json:"arch"`
	Libc           bundle.Libc   `json:"libc"`
	Prefix         string        `json:"prefix"`
	BinDir         string        `json:"bin_dir"`
	PayloadDir     string        `json:"payload_dir,omitempty"`
	Source         string        `json:"source,omitempty"`
	Mirror         string        `json:"mirror,omitempty"`
	Layout         bundle.Layout `json:"layout,omitempty"`
	SHA256         string        `json:"sha256,omitempty"`
	ChecksumSource string        `json:"checksum_source,omitempty"`
	// Verification is how the bytes were verified before they were
	// unpacked (empty in a demo receipt).
	Verification     bundle.Verification `json:"verification,omitempty"`
	IndexSerial      int64               `json:"index_serial,omitempty"`
	Verified         string              `json:"verified,omitempty"` // what verification established
	Files            []Entry             `json:"files,omitempty"`    // payload files, paths relative to Prefix
	Links            []Link              `json:"links,omitempty"`
	Configs          []Config            `json:"configs,omitempty"`
	EtcFiles         []string            `json:"etc_files,omitempty"`
	InstallerVersion string              `json:"installer_version"`
	Time             time.Time           `json:"time"`
	SelfContained    bool                `json:"self_contained,omitempty"` // carries its own glibc; no linker config
	// Backups are what stood at paths the install writes, moved aside by
	// --force; uninstall puts them back. Carried across reinstalls.
	Backups []Backup `json:"backups,omitempty"`
	// CreatedDirs are the directories the install created (absent before
	// the first install); uninstall removes those that are empty.
	CreatedDirs []string `json:"created_dirs,omitempty"`
	// Previous keeps the real install that a failed upgrade left in place.
	Previous *Receipt `json:"previous,omitempty"`
}

// ReadReceipt reads the receipt of the root; (nil, nil) when there is none.
func (in *Installer) ReadReceipt() (*Receipt, error) {
	b, ok, err := in.readFile(ReceiptPath, maxStateFile)
	if err != nil {
		return nil, fsErr("read", ReceiptPath, err)
	}
	if !ok {
		return nil, nil
	}
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, failure.New(failure.FileSystem, "receipt %s is corrupt: %w: %w", ReceiptPath, errBadReceipt, err).
			Suggest(failure.Reinstall) // the reinstall rewrites it
	}
	if err := in.validateReceipt(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// WriteReceipt writes the receipt atomically.
func (in *Installer) WriteReceipt(r *Receipt) error {
	r.Schema = 1
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return failure.Wrap(failure.Internal, err)
	}
	if err := in.writeFileAtomic(ReceiptPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	in.opt.Log.Debug().Str("mode", r.Mode).Str("version", r.Version).Msg("receipt written")
	return nil
}

// Problem is one way an installed file differs from the receipt.
type Problem struct {
	Path string `json:"path"`
	What string `json:"what"` // "missing", "changed", "size", "mode", "link", "extra"
}

func (p Problem) String() string { return p.Path + ": " + p.What }

// CheckIntact compares the installed files with the receipt: existence,
// size and mode always; content hashes when deep. Extra files in the
// payload are reported when deep.
func (in *Installer) CheckIntact(r *Receipt, deep bool) []Problem {
	var probs []Problem
	if r == nil || r.Mode != ModeReal {
		return []Problem{{Path: ReceiptPath, What: "no real install recorded"}}
	}
	if err := in.validateReceipt(r); err != nil {
		return []Problem{{Path: ReceiptPath, What: "invalid receipt: " + err.Error()}}
	}
	known := map[string]bool{}
	for _, e := range r.Files {
		p := path.Join(r.Prefix, e.Path)
		known[e.Path] = true
		fi, err := in.root.Lstat(rel(p))
		if err != nil {
			probs = append(probs, Problem{p, "missing"})
			continue
		}
		switch e.Type {
		case "dir":
			if !fi.IsDir() {
				probs = append(probs, Problem{p, "changed"})
			}
		case "symlink":
			t, err := in.root.Readlink(rel(p))
			if err != nil || t != e.Target {
				probs = append(probs, Problem{p, "link"})
			}
		case "file":
			switch {
			case !fi.Mode().IsRegular():
				probs = append(probs, Problem{p, "changed"})
			case fi.Size() != e.Size:
				probs = append(probs, Problem{p, "size"})
			case fi.Mode().Perm() != e.Mode.Perm():
				probs = append(probs, Problem{p, "mode"})
			case deep && in.hashFile(p) != e.SHA256:
				probs = append(probs, Problem{p, "changed"})
			}
		}
	}
	if r.PayloadDir != "" {
		// The prefix must lead to the payload the receipt describes: a run
		// killed between the prefix swap and the receipt leaves it pointing
		// at a newer payload whose files may well have the same sizes.
		if t, err := in.root.Readlink(rel(r.Prefix)); err == nil && t != path.Base(r.PayloadDir) {
			probs = append(probs, Problem{r.Prefix, "link"})
		} else if fi, err := in.root.Lstat(rel(r.Prefix)); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			probs = append(probs, Problem{r.Prefix, "foreign " + describe(fi)})
		}
	}
	for _, l := range r.Links {
		fi, err := in.root.Lstat(rel(l.Path))
		if err != nil {
			probs = append(probs, Problem{l.Path, "missing"})
			continue
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			probs = append(probs, Problem{l.Path, "foreign " + describe(fi)})
			continue
		}
		t, err := in.root.Readlink(rel(l.Path))
		switch {
		case err != nil:
			probs = append(probs, Problem{l.Path, "missing"})
		case t == l.Target:
		case !in.linkIntoPrefix(r.Prefix, l.Path, t):
			probs = append(probs, Problem{l.Path, "foreign link to " + t})
		default:
			probs = append(probs, Problem{l.Path, "link"})
		}
	}
	if deep {
		// Walk the directory the prefix link points to (fs.FS paths cannot
		// go through the link with a trailing "/.").
		dir := r.PayloadDir
		if t, ours := in.prefixIsOurs(r.Prefix); ours {
			dir = path.Join(path.Dir(r.Prefix), t)
		}
		if dir != "" {
			_ = fs.WalkDir(in.root.FS(), rel(dir), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				relp := strings.TrimPrefix(strings.TrimPrefix(p, rel(dir)), "/")
				if relp != "" && !known[relp] {
					probs = append(probs, Problem{path.Join(r.Prefix, relp), "extra"})
					if d.IsDir() {
						return fs.SkipDir // one line for an extra directory
					}
				}
				return nil
			})
		}
	}
	return probs
}

func (in *Installer) hashFile(p string) string {
	f, err := safeio.OpenInNoFollow(in.root, rel(p))
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// RecordDemo switches the root to demo mode: profile.d says
// SLURM_DEMO_MODE=1 and the receipt records the reason. It must only be
// called when no working install exists.
//
// What an earlier receipt owns is carried over, so that uninstall still
// removes (and restores) all of it: its backups, created directories and
// config files, and, when it was a real install whose payload is still in
// place (a broken one), that receipt itself as r.Previous.
func (in *Installer) RecordDemo(r *Receipt) error {
	prev := in.prevReceipt()
	c := &Commit{in: in, prev: prev}
	if prev != nil {
		c.Backups = append(c.Backups, prev.Backups...)
		c.CreatedDirs = append(c.CreatedDirs, prev.CreatedDirs...)
		c.carried = len(c.CreatedDirs)
	}
	if err := in.writeProfile(c, true); err != nil {
		c.Rollback()
		return err
	}
	r.Mode = ModeDemo
	r.Configs = c.Configs
	r.Backups, r.CreatedDirs = c.Backups, c.CreatedDirs
	if prev != nil {
		for _, cf := range prev.Configs {
			if cf.Path != ProfileScript {
				r.Configs = append(r.Configs, cf)
			}
		}
		switch {
		case prev.Mode == ModeReal:
			p := *prev
			p.Previous, p.Backups, p.CreatedDirs, p.Configs = nil, nil, nil, nil
			r.Previous = &p
		case prev.Previous != nil:
			r.Previous = prev.Previous
		}
	}
	if err := in.WriteReceipt(r); err != nil {
		c.Rollback()
		return err
	}
	in.settleJournal()
	return nil
}

// errLocked is wrapped by a lock wait that timed out.
var errLocked = errors.New("another slurm-installer holds the lock")

// Lock takes the root's install lock (flock on stateDir/lock), waiting up
// to timeout. A lock held by a dead process is released by the kernel, so
// it never blocks. The returned function releases it.
func (in *Installer) Lock(ctx context.Context, timeout time.Duration) (func(), error) {
	if err := in.root.MkdirAll(rel(stateDir), 0o755); err != nil {
		return nil, fsErr("create directory", stateDir, err)
	}
	p := path.Join(stateDir, "lock")
	// The lock is opened without following a link and must be a regular
	// file: a lock planted as a symlink (to /etc/passwd, say) would
	// otherwise have its target truncated.
	if fi, err := in.root.Lstat(rel(stateDir)); err == nil && !fi.IsDir() {
		return nil, failure.New(failure.FileSystem, "%s is a %s, not the installer's state directory", stateDir, in.describePath(stateDir)).
			WithHint("move %s away (inside the target root) and run again", stateDir)
	}
	notRegular := func() error {
		return failure.New(failure.FileSystem, "lock file %s is a %s, not a regular file: %w", p, in.describePath(p), ErrNotOurs).
			WithHint("a lock file is never a link; remove %s (inside the target root) and run again", p)
	}
	// os.Root follows a link that stays inside the root, so the lock is
	// checked with Lstat before it is opened (O_CREATE must not create a
	// dangling link's target) and after (the file opened is the one there).
	if fi, err := in.root.Lstat(rel(p)); err == nil && !fi.Mode().IsRegular() {
		return nil, notRegular()
	}
	f, err := in.root.OpenFile(rel(p), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
	if errors.Is(err, unix.EROFS) {
		// A read-only root still serializes (flock needs no write access);
		// the run then fails, class 7, at its first write, naming that path.
		f, err = in.root.OpenFile(rel(p), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, notRegular()
	}
	if err != nil {
		return nil, fsErr("open lock", p, err)
	}
	opened, err1 := f.Stat()
	there, err2 := in.root.Lstat(rel(p))
	if err1 != nil || err2 != nil || !opened.Mode().IsRegular() || !os.SameFile(opened, there) {
		f.Close()
		return nil, notRegular()
	}
	// A lock hard-linked to another file (/etc/passwd) would have that
	// file truncated by the pid written into it: one link only.
	if st, ok := opened.Sys().(*syscall.Stat_t); !ok || st.Nlink != 1 {
		f.Close()
		return nil, failure.New(failure.FileSystem, "lock file %s has %d names (a hard link to another file?): %w", p, linkCount(opened), ErrNotOurs).
			WithHint("a lock file has one name; remove %s (inside the target root) and run again", p)
	}
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fsErr("lock", p, err)
		}
		holder := "unknown pid"
		if b, ok, err := in.readFile(p, 64); err == nil && ok && len(strings.TrimSpace(string(b))) > 0 {
			holder = "pid " + strings.TrimSpace(string(b))
		}
		if err := ctx.Err(); err != nil {
			f.Close()
			return nil, fmt.Errorf("waiting for the lock on %s: %w", in.HostPath(p), context.Cause(ctx))
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, failure.New(failure.Locked, "%w (%s) on %s; waited %s", errLocked, holder, in.HostPath(p), timeout).
				WithHint("wait for it to finish").Suggest(failure.RaiseLockTimeout)
		}
		if !logged {
			in.opt.Log.Info().Str("holder", holder).Msg("waiting for another slurm-installer run on this root")
			logged = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	in.ctx = ctx
	in.CleanStale()
	return func() {
		_ = f.Truncate(0)
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}

// Uninstall removes exactly what the receipt lists: the payload, links that
// still point into the prefix, config files whose content is still ours (or
// our lines in merged files), and the receipt; then it moves every recorded
// backup back to its path and removes the directories the install created
// that are empty now. Files placed in /etc/slurm are kept (site config).
// It returns notes on what it kept and why. An invalid receipt is refused
// before anything is touched.
func (in *Installer) Uninstall(ctx context.Context, r *Receipt) ([]string, error) {
	var notes []string
	if r == nil {
		return []string{"nothing installed: no receipt at " + ReceiptPath}, nil
	}
	if err := in.validateReceipt(r); err != nil {
		return nil, err
	}
	for rr := r; rr != nil; rr = rr.Previous {
		for _, l := range rr.Links {
			t, err := in.root.Readlink(rel(l.Path))
			if err != nil {
				continue
			}
			if !in.linkIntoPrefix(rr.Prefix, l.Path, t) {
				notes = append(notes, fmt.Sprintf("kept %s: it now points to %s", l.Path, t))
				continue
			}
			if err := in.root.Remove(rel(l.Path)); err != nil {
				return notes, fsErr("remove", l.Path, err)
			}
		}
		if rr.Mode != ModeReal {
			continue
		}
		fi, err := in.root.Lstat(rel(rr.Prefix))
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			n, err := in.removePayload(rr)
			notes = append(notes, n...)
			if err != nil {
				return notes, err
			}
		default:
			notes = append(notes, fmt.Sprintf("kept %s: it is a %s this installer did not create", rr.Prefix, describe(fi)))
		}
	}
	for _, cf := range r.Configs {
		b, ok, err := in.readFile(cf.Path, maxConfigFile)
		if err != nil || !ok {
			continue
		}
		if fi, err := in.root.Lstat(rel(cf.Path)); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		switch {
		case sum(b) == cf.SHA256 && cf.Created:
			if err := in.root.Remove(rel(cf.Path)); err != nil {
				return notes, fsErr("remove", cf.Path, err)
			}
		case len(cf.Lines) > 0:
			if data := unmerge(b, cf); !bytes.Equal(data, b) {
				if err := in.writeFileAtomic(cf.Path, data, in.permOf(cf.Path)); err != nil {
					return notes, err
				}
			}
		case sum(b) == cf.SHA256:
			notes = append(notes, fmt.Sprintf("kept %s: it existed before the install with this content", cf.Path))
		default:
			notes = append(notes, fmt.Sprintf("kept %s: it was changed after the install", cf.Path))
		}
	}
	notes = append(notes, in.restoreBackups(r.Backups)...)
	if names := in.listDir("/etc/slurm"); len(names) > 0 {
		sort.Strings(names)
		for _, n := range names {
			notes = append(notes, fmt.Sprintf("kept /etc/slurm/%s: site configuration is never removed", n))
		}
	}
	if err := in.root.Remove(rel(ReceiptPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return notes, fsErr("remove", ReceiptPath, err)
	}
	var dirs []string
	for _, d := range r.CreatedDirs {
		if !within(stateDir, d) { // the state directory holds the lock we hold
			dirs = append(dirs, d)
		}
	}
	in.removeCreatedDirs(dirs)
	if r.Libc != bundle.Musl || in.hasGlibcConf() {
		_ = in.ldconfig(ctx)
	}
	return notes, nil
}

// payloadDir is the in-root directory the prefix link points to ("" when
// the prefix is not a link of ours).
func (in *Installer) payloadDir(r *Receipt) string {
	t, ours := in.prefixIsOurs(r.Prefix)
	if !ours {
		return ""
	}
	return path.Join(path.Dir(r.Prefix), t)
}

// removePayload removes the receipt's payload entries that are still as
// installed, then the prefix link and its directory once nothing else is
// left in it. Files the user changed or added are kept, with the prefix
// link to them, and named in the notes.
func (in *Installer) removePayload(r *Receipt) ([]string, error) {
	var notes []string
	dir := in.payloadDir(r)
	if dir != "" && dir != r.PayloadDir {
		// Only by record: the prefix leads elsewhere than the receipt says.
		return []string{fmt.Sprintf("kept %s: it points to %s, not to the payload %s the receipt records", r.Prefix, path.Base(dir), r.PayloadDir)}, nil
	}
	if dir == "" {
		t, _ := in.root.Readlink(rel(r.Prefix))
		return []string{fmt.Sprintf("kept %s: it now points to %s, not to a directory this installer made", r.Prefix, t)}, nil
	}
	files := append([]Entry(nil), r.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path > files[j].Path }) // children first
	for _, e := range files {
		p := path.Join(dir, e.Path)
		shown := path.Join(r.Prefix, e.Path)
		fi, err := in.root.Lstat(rel(p))
		if err != nil {
			continue
		}
		switch e.Type {
		case "dir":
			if !fi.IsDir() {
				continue
			}
			if err := in.root.Remove(rel(p)); err != nil && !isNotEmpty(err) {
				return notes, fsErr("remove", shown, err)
			}
			continue
		case "symlink":
			if t, err := in.root.Readlink(rel(p)); err != nil || t != e.Target {
				notes = append(notes, fmt.Sprintf("kept %s: it was changed after the install", shown))
				continue
			}
		case "file":
			if !fi.Mode().IsRegular() || fi.Size() != e.Size || in.hashFile(p) != e.SHA256 {
				notes = append(notes, fmt.Sprintf("kept %s: it was changed after the install", shown))
				continue
			}
		}
		if err := in.root.Remove(rel(p)); err != nil {
			return notes, fsErr("remove", shown, err)
		}
	}
	var left []string
	_ = fs.WalkDir(in.root.FS(), rel(dir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path.Join(r.Prefix, strings.TrimPrefix(strings.TrimPrefix(p, rel(dir)), "/")))
		}
		return nil
	})
	if len(left) > 0 {
		notes = append(notes, fmt.Sprintf("kept %s (-> %s): it still holds %d file(s) the install did not write or that were changed: %s",
			r.Prefix, path.Base(dir), len(left), strings.Join(left, ", ")))
		return notes, nil
	}
	if err := in.root.Remove(rel(r.Prefix)); err != nil {
		return notes, fsErr("remove", r.Prefix, err)
	}
	if err := in.root.RemoveAll(rel(dir)); err != nil {
		return notes, fsErr("remove", dir, err)
	}
	return notes, nil
}

func isNotEmpty(err error) bool {
	return errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST)
}

// unmerge is a merged file's content b without what the install added: the
// exact bytes it appended cut off when the file still ends with them (the
// site's bytes come back as they were), and any of its lines left elsewhere
// (the site edited the file since) removed line by line.
func unmerge(b []byte, cf Config) []byte {
	if cf.Appended != "" && bytes.HasSuffix(b, []byte(cf.Appended)) {
		b = b[:len(b)-len(cf.Appended)]
	}
	drop := map[string]bool{}
	for _, l := range cf.Lines {
		drop[l] = true
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	keep := lines[:0:0]
	for _, l := range lines {
		if !drop[strings.TrimSpace(l)] {
			keep = append(keep, l)
		}
	}
	if len(keep) == len(lines) {
		return b // nothing of ours is left in it
	}
	return []byte(strings.Join(keep, "\n") + "\n")
}
