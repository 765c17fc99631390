package install

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
)

// ErrNotOurs is wrapped by the error of a run that found, at a path it must
// write, something this installer did not write (and --force was not given).
var ErrNotOurs = errors.New("not written by slurm-installer")

// errBadReceipt is wrapped by the error for a receipt that fails validation.
var errBadReceipt = errors.New("receipt is not one this installer wrote")

// Backup is something that stood at a path the installer had to write and
// that --force moved aside. Uninstall moves it back.
type Backup struct {
	Path   string `json:"path"`   // original in-root path
	Backup string `json:"backup"` // in-root path it was moved to (beside Path)
	What   string `json:"what"`   // what it was: "file", "directory", "symlink to X"
}

const backupPrefix = ".slurm-installer-backup."

var (
	hexID     = `[0-9a-f]{8}`
	reBackup  = regexp.MustCompile(`^` + regexp.QuoteMeta(backupPrefix) + hexID + `\.[^/]+$`)
	reStaging = regexp.MustCompile(`^` + regexp.QuoteMeta(stagingPrefix) + hexID + `$`)
	reTmp     = regexp.MustCompile(`^` + regexp.QuoteMeta(tmpPrefix) + hexID + `$`)
	reMusl    = regexp.MustCompile(`^/etc/ld-musl-[a-z0-9_]+\.path$`)
	reArch    = regexp.MustCompile(`^[A-Za-z0-9_]{0,32}$`)
)

// backupName is where p is moved aside: beside it (same file system, so the
// move is one rename and never copies or loses a byte).
func backupName(p string) string {
	return path.Join(path.Dir(p), backupPrefix+randomID()+"."+path.Base(p))
}

// isPayloadName says whether name (an entry beside the prefix) is one of
// this installer's versioned payload directories: .<base>-<version>-<8 hex>.
func isPayloadName(prefix, name string) bool {
	vp := "." + path.Base(prefix) + "-"
	if !strings.HasPrefix(name, vp) || strings.HasPrefix(name, ".slurm-installer-") {
		return false
	}
	rest := strings.TrimPrefix(name, vp)
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 || !regexp.MustCompile(`^`+hexID+`$`).MatchString(rest[i+1:]) {
		return false
	}
	for _, r := range rest[:i] {
		if !(r == '.' || r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// prefixIsOurs says whether the prefix is a link this installer made: a
// link to one of its own versioned payload directories beside it.
func (in *Installer) prefixIsOurs(prefix string) (target string, ours bool) {
	t, err := in.root.Readlink(rel(prefix))
	if err != nil {
		return "", false
	}
	return t, isPayloadName(prefix, t)
}

// describePath says what stands at p, for messages and backup records.
func (in *Installer) describePath(p string) string {
	fi, err := in.root.Lstat(rel(p))
	if err != nil {
		return "nothing"
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		t, _ := in.root.Readlink(rel(p))
		return "symlink to " + t
	}
	return describe(fi)
}

// notOurs is the refusal for a foreign thing at p.
func notOurs(p, what, why string) error {
	return failure.New(failure.FileSystem, "%s is a %s that slurm-installer did not write (%s): %w", p, what, why, ErrNotOurs).
		WithHint("move %s away (or remove it) and run again", p).Suggest(failure.ForceAside)
}

// claim makes the foreign thing at p go away for the commit: without
// --force it refuses; with it, p is renamed to a backup beside it,
// recorded in the commit (and so in the receipt) and undone on rollback.
func (in *Installer) claim(c *Commit, p, why string) error {
	what := in.describePath(p)
	if !in.opt.Force {
		return notOurs(p, what, why)
	}
	b := backupName(p)
	rec := Backup{Path: p, Backup: b, What: what}
	// Journal it first: a run killed before its receipt is written leaves
	// the journal, and the next run puts the backup back (recoverJournal).
	c.pending = append(c.pending, rec)
	if err := in.journalCommit(c); err != nil {
		return err
	}
	if err := in.root.Rename(rel(p), rel(b)); err != nil {
		return fsErr("move aside", p, err)
	}
	in.opt.Log.Warn().Str("path", p).Str("backup", b).Str("was", what).Msg("forced: moved aside what stood at a path the install writes; uninstall puts it back")
	c.Backups = append(c.Backups, rec)
	c.undo = append(c.undo, func() error {
		if _, err := in.root.Lstat(rel(p)); err == nil {
			if err := in.root.RemoveAll(rel(p)); err != nil {
				return err
			}
		}
		return in.root.Rename(rel(b), rel(p))
	})
	return nil
}

// mkdirAll creates the in-root directory dir and its missing parents,
// recording each directory it created so that uninstall removes it (when
// empty) and nothing else. Existing components are used as they are
// (a parent that is a symlink is followed, inside the root).
func (in *Installer) mkdirAll(created *[]string, dir string) error {
	dir = path.Clean(dir)
	if dir == "/" {
		return nil
	}
	if fi, err := in.root.Stat(rel(dir)); err == nil {
		if !fi.IsDir() {
			return failure.New(failure.FileSystem, "%s is a %s, not a directory", dir, describe(fi)).
				WithHint("move it away, or choose another directory")
		}
		return nil
	}
	if err := in.mkdirAll(created, path.Dir(dir)); err != nil {
		return err
	}
	// A commit journals the directory before it is made (a first install
	// killed later is undone by the next run, directories and all).
	if created != nil && in.committing != nil && created == &in.committing.CreatedDirs {
		*created = append(*created, dir)
		if err := in.journalCommit(in.committing); err != nil {
			*created = (*created)[:len(*created)-1]
			return err
		}
		if err := in.root.Mkdir(rel(dir), 0o755); err != nil {
			*created = (*created)[:len(*created)-1]
			if errors.Is(err, fs.ErrExist) {
				return nil
			}
			return fsErr("create directory", dir, err)
		}
		return nil
	}
	if err := in.root.Mkdir(rel(dir), 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fsErr("create directory", dir, err)
	}
	if created != nil {
		*created = append(*created, dir)
	}
	return nil
}

// removeCreatedDirs removes the directories an install created, deepest
// first, when they are empty; anything in them now keeps them.
func (in *Installer) removeCreatedDirs(dirs []string) {
	ds := append([]string(nil), dirs...)
	sort.Slice(ds, func(i, j int) bool {
		return strings.Count(ds[i], "/") > strings.Count(ds[j], "/") || (strings.Count(ds[i], "/") == strings.Count(ds[j], "/") && ds[i] > ds[j])
	})
	for _, d := range ds {
		if fi, err := in.root.Lstat(rel(d)); err != nil || !fi.IsDir() {
			continue
		}
		_ = in.root.Remove(rel(d))
	}
}

// restoreBackups moves every recorded backup back to its path, once
// nothing of ours stands there any more. It returns notes on the ones it
// could not restore.
func (in *Installer) restoreBackups(bs []Backup) []string {
	var notes []string
	for i := len(bs) - 1; i >= 0; i-- {
		b := bs[i]
		if _, err := in.root.Lstat(rel(b.Backup)); err != nil {
			notes = append(notes, fmt.Sprintf("could not restore %s: its backup %s is gone", b.Path, b.Backup))
			continue
		}
		if _, err := in.root.Lstat(rel(b.Path)); err == nil {
			notes = append(notes, fmt.Sprintf("kept the backup %s of %s (%s): something else stands at %s now; move it back by hand", b.Backup, b.Path, b.What, b.Path))
			continue
		}
		if err := in.mkdirAll(nil, path.Dir(b.Path)); err != nil {
			notes = append(notes, fmt.Sprintf("could not restore %s from %s: %v", b.Path, b.Backup, err))
			continue
		}
		if err := in.root.Rename(rel(b.Backup), rel(b.Path)); err != nil {
			notes = append(notes, fmt.Sprintf("could not restore %s from %s: %v", b.Path, b.Backup, err))
			continue
		}
		notes = append(notes, fmt.Sprintf("restored %s (%s) from its backup", b.Path, b.What))
	}
	return notes
}

// resolveDir resolves the in-root directory p the way chroot would: a
// symlinked component is followed, an absolute link target is taken
// relative to the root. It returns p itself when it cannot resolve it.
func (in *Installer) resolveDir(p string) string {
	p = path.Clean(p)
	cur := "/"
	rest := strings.Split(strings.Trim(p, "/"), "/")
	for hops := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		fi, err := in.root.Lstat(rel(next))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return p
		}
		t, err := in.root.Readlink(rel(next))
		if err != nil {
			return p
		}
		if strings.HasPrefix(t, "/") {
			cur = "/"
		}
		rest = append(strings.Split(strings.Trim(t, "/"), "/"), rest...)
	}
	return cur
}

// validPath says whether p is a clean absolute in-root path other than "/".
func validPath(p string) bool {
	return strings.HasPrefix(p, "/") && p != "/" && path.Clean(p) == p && !strings.ContainsAny(p, "\x00\n\r")
}

// within says whether p is dir or below it.
func within(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// validateReceipt checks a receipt read from the root before anything acts
// on it: the root (a base image) may carry any receipt. Every path must be
// clean, inside the root and inside what the installer owns; digests are 64
// hex; sizes are sane.
func (in *Installer) validateReceipt(r *Receipt) error {
	bad := func(format string, a ...any) error {
		return failure.New(failure.FileSystem, "%s: %w: %s", ReceiptPath, errBadReceipt, fmt.Sprintf(format, a...)).
			WithHint("the receipt was not written by this installer (or is damaged), so nothing it lists is touched; inspect %s and move it away to start afresh", ReceiptPath)
	}
	return in.validateReceiptDepth(r, bad, 0)
}

func (in *Installer) validateReceiptDepth(r *Receipt, bad func(string, ...any) error, depth int) error {
	if depth > 4 {
		return bad("previous receipts nest too deep")
	}
	if r.Mode != ModeReal && r.Mode != ModeDemo {
		return bad("mode %q", r.Mode)
	}
	if !validPath(r.Prefix) || badShellPath(r.Prefix) {
		return bad("prefix %q is not a clean absolute path", r.Prefix)
	}
	if !validPath(r.BinDir) || badShellPath(r.BinDir) || within(r.BinDir, r.Prefix) {
		return bad("bin_dir %q is not a clean absolute path outside the prefix", r.BinDir)
	}
	parent := path.Dir(r.Prefix)
	if r.PayloadDir != "" && (path.Dir(r.PayloadDir) != parent || !isPayloadName(r.Prefix, path.Base(r.PayloadDir))) {
		return bad("payload_dir %q is not a versioned payload directory beside %s", r.PayloadDir, r.Prefix)
	}
	if r.Mode == ModeReal && r.PayloadDir == "" {
		return bad("a real install with no payload_dir")
	}
	if !reArch.MatchString(r.Arch) || r.Libc != "" && !r.Libc.Valid() {
		return bad("arch %q / libc %q", r.Arch, r.Libc)
	}
	// The values the bundle contract defines, and no others (issue 22: a
	// list kept here forgot one a registry install writes).
	if r.Verification != "" && !r.Verification.Valid() {
		return bad("verification %q is not one of %v", r.Verification, bundle.Verifications())
	}
	if r.Layout != "" && !r.Layout.Valid() {
		return bad("layout %q is not one of %v", r.Layout, bundle.Layouts())
	}
	if r.SHA256 != "" && !bundle.Digest(r.SHA256).Valid() {
		return bad("sha256 %q is not 64 hex digits", r.SHA256)
	}
	if len(r.Files) > 1<<20 {
		return bad("%d files", len(r.Files))
	}
	for _, e := range r.Files {
		if !validRel(e.Path) {
			return bad("file %q is not a clean relative path", e.Path)
		}
		switch e.Type {
		case "dir":
		case "file":
			if !bundle.Digest(e.SHA256).Valid() {
				return bad("file %s: sha256 %q is not 64 hex digits", e.Path, e.SHA256)
			}
			if e.Size < 0 || e.Size > 1<<40 {
				return bad("file %s: size %d", e.Path, e.Size)
			}
		case "symlink":
			t := path.Join(path.Dir(e.Path), e.Target)
			if e.Target == "" || strings.HasPrefix(e.Target, "/") || t == ".." || strings.HasPrefix(t, "../") {
				return bad("symlink %s -> %q leaves the payload", e.Path, e.Target)
			}
		default:
			return bad("file %s: type %q", e.Path, e.Type)
		}
	}
	for _, l := range r.Links {
		if path.Dir(l.Path) != r.BinDir || !validPath(l.Path) {
			return bad("link %q is not in bin_dir %s", l.Path, r.BinDir)
		}
		if !in.linkIntoPrefix(r.Prefix, l.Path, l.Target) {
			return bad("link %s -> %q does not point into the prefix %s", l.Path, l.Target, r.Prefix)
		}
	}
	for _, cf := range r.Configs {
		if cf.Path != ProfileScript && cf.Path != glibcLinkerConf && !reMusl.MatchString(cf.Path) {
			return bad("config %q is not one this installer writes", cf.Path)
		}
		if !bundle.Digest(cf.SHA256).Valid() {
			return bad("config %s: sha256 %q is not 64 hex digits", cf.Path, cf.SHA256)
		}
		ours := map[string]bool{}
		for _, l := range cf.Lines {
			// Only the directories LinkerDirs adds for this prefix, never
			// one of musl's defaults: a planted receipt must not make
			// uninstall take the site's own entries out of its path file.
			if !validPath(l) || !slices.Contains(linkerDirCandidates(r.Prefix), l) || slices.Contains(muslDefaults, l) {
				return bad("config %s: line %q is not a library directory of the prefix %s", cf.Path, l, r.Prefix)
			}
			ours[l] = true
		}
		if a := cf.Appended; a != "" {
			body := strings.TrimPrefix(a, "\n")
			if !strings.HasSuffix(body, "\n") {
				return bad("config %s: appended %q does not end a line", cf.Path, a)
			}
			for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
				if !ours[l] {
					return bad("config %s: appended %q holds %q, which is not one of its lines", cf.Path, a, l)
				}
			}
		}
	}
	for _, e := range r.EtcFiles {
		if !validPath(e) || !strings.HasPrefix(e, "/etc/slurm/") {
			return bad("etc file %q is not in /etc/slurm", e)
		}
	}
	owned := func(p string) bool {
		if p == r.Prefix || p == ProfileScript || p == glibcLinkerConf || reMusl.MatchString(p) {
			return true
		}
		return path.Dir(p) == r.BinDir
	}
	for _, b := range r.Backups {
		if !validPath(b.Path) || !owned(b.Path) {
			return bad("backup of %q: not a path this installer writes", b.Path)
		}
		if path.Dir(b.Backup) != path.Dir(b.Path) || !reBackup.MatchString(path.Base(b.Backup)) || !validPath(b.Backup) {
			return bad("backup %q of %s is not a backup name beside it", b.Backup, b.Path)
		}
	}
	for _, d := range r.CreatedDirs {
		ok := validPath(d)
		if ok {
			ok = false
			for _, top := range []string{parent, r.BinDir, path.Dir(ProfileScript), path.Dir(glibcLinkerConf), "/etc/slurm", stateDir} {
				if within(top, d) {
					ok = true
				}
			}
		}
		if !ok {
			return bad("created directory %q is not one this installer creates", d)
		}
	}
	if r.Previous != nil {
		return in.validateReceiptDepth(r.Previous, bad, depth+1)
	}
	return nil
}

func validRel(p string) bool {
	return p != "" && !strings.HasPrefix(p, "/") && path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../") && !strings.ContainsAny(p, "\x00\n")
}

// linkIntoPrefix says whether a link at linkPath with target points to
// <prefix>/bin/<name> (resolving the link's directory as chroot would).
func (in *Installer) linkIntoPrefix(prefix, linkPath, target string) bool {
	abs := target
	if !strings.HasPrefix(target, "/") {
		abs = path.Join(in.resolveDir(path.Dir(linkPath)), target)
	}
	abs = path.Clean(abs)
	if path.Dir(abs) == path.Join(prefix, "bin") {
		return true
	}
	d := path.Dir(path.Dir(abs))
	return path.Base(path.Dir(abs)) == "bin" && path.Dir(d) == path.Dir(prefix) && isPayloadName(prefix, path.Base(d))
}

// badShellPath says whether p holds characters that have no business in a
// path written into a shell profile (control characters) or PATH (':').
func badShellPath(p string) bool {
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
