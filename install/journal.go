package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"syscall"

	"slurm-installer/internal/failure"
)

// journalPath is the journal of a locked run whose receipt is not written
// yet (docs/DESIGN.md §5): written before each change the receipt does not
// yet record, read and acted on (only) by the next locked run.
const journalPath = stateDir + "/backups-pending.json"

// journal records, before the change is made, what a run changes that no
// receipt records yet, so that a run killed at any instant leaves a record
// the next run can undo by (and only by):
//   - Dirs: the staging and payload directories it makes beside the
//     prefix, each with the inode it has (a payload directory's is that of
//     the staged directory renamed there); a directory is removed only when
//     the journal names it and it is still that directory;
//   - Backups: what --force moved aside (before the move);
//   - Pending: for a commit with no real install before it (a first
//     install, or real after demo), what the commit has put in place: the
//     payload and prefix link, the command links and config files (each
//     recorded before it is written). A first install killed during its
//     verification is undone from it by the next run.
//
// The journal lives in the root, so it is untrusted input: it is read only
// under the lock, through the safe reader, and validated like the receipt
// before anything acts on it. A journal that does not pass is set aside,
// never acted on.
type journal struct {
	Prefix  string     `json:"prefix"`
	Dirs    []JournDir `json:"dirs,omitempty"`
	Backups []Backup   `json:"backups,omitempty"`
	Pending *Receipt   `json:"pending,omitempty"`
	// NoLdCache: the root had no loader cache before the pending commit
	// (undoing it removes the one it built instead of rebuilding it).
	NoLdCache bool `json:"no_ld_cache,omitempty"`
}

// JournDir is a directory a run made beside the prefix.
type JournDir struct {
	Path string `json:"path"`
	Ino  uint64 `json:"ino,omitempty"` // 0: a staging directory recorded before it was made
}

// j is the run's journal (empty when none was read).
func (in *Installer) j() *journal {
	if in.jr == nil {
		in.jr = &journal{Prefix: in.opt.Prefix}
	}
	return in.jr
}

// saveJournal writes the journal, or removes it when it records nothing.
func (in *Installer) saveJournal() error {
	jr := in.j()
	if len(jr.Dirs) == 0 && len(jr.Backups) == 0 && jr.Pending == nil {
		if err := in.root.Remove(rel(journalPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fsErr("remove", journalPath, err)
		}
		return nil
	}
	b, err := json.Marshal(jr)
	if err != nil {
		return failure.Wrap(failure.Internal, err)
	}
	return in.writeFileAtomic(journalPath, b, 0o644)
}

// journalDir records dir (beside the prefix) before it is made or moved
// there; ino is the inode it will have (0 for a staging directory).
func (in *Installer) journalDir(dir string, ino uint64) error {
	jr := in.j()
	jr.Prefix = in.opt.Prefix
	jr.Dirs = append(jr.Dirs, JournDir{Path: dir, Ino: ino})
	return in.saveJournal()
}

// inode is the inode number of the in-root path p (0 when unknown).
func (in *Installer) inode(p string) uint64 {
	fi, err := in.root.Lstat(rel(p))
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// journalCommit records the commit's own changes so far (first install or
// real after demo only; an upgrade's undo is the previous receipt).
func (in *Installer) journalCommit(c *Commit) error {
	jr := in.j()
	jr.Backups = c.pending
	if c.prev != nil && c.prev.Mode == ModeReal || c.PayloadRel == "" {
		return in.saveJournal() // an upgrade, or demo mode: its backups only
	}
	links, confs := c.Links, c.Configs
	if c.planLinks != nil {
		links = c.planLinks
	}
	if c.planConf != nil {
		confs = append(slices.Clone(confs), *c.planConf)
	}
	jr.NoLdCache = !c.hadLdCache
	jr.Pending = &Receipt{Mode: ModeReal, Prefix: in.opt.Prefix, BinDir: in.opt.BinDir, PayloadDir: c.PayloadRel,
		Arch: in.opt.Arch, Libc: in.opt.Libc, Links: links, Configs: confs, Backups: c.pending,
		CreatedDirs: c.CreatedDirs[c.carried:]}
	return in.saveJournal()
}

// settleJournal ends the run's journal once a receipt records its changes
// (or they are undone): what stays is only the directories earlier killed
// runs left that are still there and still not recorded by a receipt (the
// one the prefix leads to, until a later commit replaces it).
func (in *Installer) settleJournal() {
	jr := in.j()
	// Read without the run's context: a rollback after a signal (the
	// context cancelled) must still see the receipt, or it would keep the
	// payload that receipt records on the journal's list to remove.
	ctx := in.ctx
	in.ctx = nil
	recorded := in.recordedPayloads(in.prevReceipt())
	in.ctx = ctx
	var keep []JournDir
	for _, d := range jr.Dirs {
		if !recorded[d.Path] && d.Ino != 0 && in.inode(d.Path) == d.Ino {
			keep = append(keep, d)
		}
	}
	jr.Dirs, jr.Backups, jr.Pending, jr.NoLdCache = keep, nil, nil, false
	if err := in.saveJournal(); err != nil {
		in.opt.Log.Warn().Err(err).Msg("could not update the journal")
	}
}

// unjournalDir drops dir from the journal (a staging directory removed).
func (in *Installer) unjournalDir(dir string) {
	jr := in.j()
	n := len(jr.Dirs)
	jr.Dirs = slices.DeleteFunc(jr.Dirs, func(d JournDir) bool { return d.Path == dir })
	if len(jr.Dirs) != n {
		if err := in.saveJournal(); err != nil {
			in.opt.Log.Warn().Err(err).Msg("could not update the journal")
		}
	}
}

// journalNames says whether the journal names dir as one of its directories
// and dir is still the directory it recorded.
func (in *Installer) journalNames(dir string) bool {
	for _, d := range in.j().Dirs {
		if d.Path == dir && d.Ino != 0 && in.inode(dir) == d.Ino {
			return true
		}
	}
	return false
}

// recordedPayloads are the payload directories a receipt (and the receipts
// it keeps) names.
func (in *Installer) recordedPayloads(r *Receipt) map[string]bool {
	m := map[string]bool{}
	for ; r != nil; r = r.Previous {
		if r.PayloadDir != "" {
			m[r.PayloadDir] = true
		}
	}
	return m
}

// readJournal reads and validates the journal; nil when there is none.
func (in *Installer) readJournal() (*journal, error) {
	b, ok, err := in.readFile(journalPath, maxStateFile)
	if err != nil || !ok {
		return nil, err
	}
	var jr journal
	if len(b) > 0 && b[0] == '[' {
		// An older installer's journal: its backups only.
		if err := json.Unmarshal(b, &jr.Backups); err != nil {
			return nil, err
		}
	} else if err := json.Unmarshal(b, &jr); err != nil {
		return nil, err
	}
	return &jr, in.validateJournal(&jr)
}

// validateJournal checks a journal read from the root like a receipt: every
// path clean and inside what the installer owns, its directories beside the
// prefix with one of the installer's names.
func (in *Installer) validateJournal(jr *journal) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w: %s", journalPath, errBadReceipt, fmt.Sprintf(format, a...))
	}
	if jr.Prefix == "" {
		jr.Prefix = in.opt.Prefix // an older installer's journal is this run's
	}
	if !validPath(jr.Prefix) || badShellPath(jr.Prefix) {
		return bad("prefix %q", jr.Prefix)
	}
	parent := path.Dir(jr.Prefix)
	for _, d := range jr.Dirs {
		n := path.Base(d.Path)
		if !validPath(d.Path) || path.Dir(d.Path) != parent || !(reStaging.MatchString(n) || isPayloadName(jr.Prefix, n) && d.Ino != 0) {
			return bad("directory %q is not a staging or payload directory beside %s", d.Path, jr.Prefix)
		}
	}
	// Backups (and a pending commit) are checked by the receipt's rules: a
	// receipt that holds them.
	r := &Receipt{Mode: ModeDemo, Prefix: jr.Prefix, BinDir: path.Join(parent, "bin"), Backups: jr.Backups}
	if p := jr.Pending; p != nil {
		if p.Prefix != jr.Prefix || p.Previous != nil || len(p.Files) > 0 {
			return bad("pending commit for %q", p.Prefix)
		}
		rr := *p
		r = &rr
		if r.PayloadDir == "" {
			return bad("pending commit with no payload directory")
		}
		r.Backups = append(slices.Clone(r.Backups), jr.Backups...)
	} else {
		// Without a pending commit, a backup's path must be the prefix, a
		// config path or a command path: its bin-dir is not known, so any
		// directory goes, and the rule that keeps the site's files is
		// recoverJournal's (only ours is ever removed).
		for _, b := range jr.Backups {
			r.BinDir = path.Dir(b.Path)
			if within(r.BinDir, r.Prefix) {
				return bad("backup of %q inside the prefix", b.Path)
			}
			rr := *r
			rr.Backups = []Backup{b}
			if err := in.validateReceiptDepth(&rr, func(f string, a ...any) error { return bad(f, a...) }, 0); err != nil {
				return err
			}
		}
		return nil
	}
	return in.validateReceiptDepth(r, func(f string, a ...any) error { return bad(f, a...) }, 0)
}

// recoverJournal undoes, by the journal's record only, what a killed run
// did that no receipt records (docs/DESIGN.md §6: a killed run leaves a
// state the next run repairs). It runs under the lock. Nothing the journal
// does not name is removed, and a path is cleared for a backup only when
// what stands there is provably ours (a link into the prefix, the prefix
// link to a journaled payload, a config file with the content the journal
// recorded); the site's file is never replaced by a backup.
func (in *Installer) recoverJournal() {
	jr, err := in.readJournal()
	if err != nil && in.context().Err() != nil {
		return // stopped (a signal) while reading: the journal stays for the next run
	}
	if err != nil {
		in.opt.Log.Warn().Err(err).Str("journal", journalPath).Msg("the journal is not one this installer wrote (or is damaged): nothing it lists is touched; it is set aside")
		aside := backupName(journalPath)
		_ = in.root.Rename(rel(journalPath), rel(aside))
		return
	}
	if jr == nil {
		return
	}
	in.jr = jr
	recv := in.prevReceipt()
	recorded := in.recordedPayloads(recv)
	inReceipt := map[string]bool{}
	if recv != nil {
		for _, b := range recv.Backups {
			inReceipt[b.Backup] = true
		}
	}
	ldconf := false
	firstInstall := recv == nil || recv.Mode != ModeReal
	if p := jr.Pending; p != nil && !recorded[p.PayloadDir] && firstInstall {
		ldconf = in.undoPending(p)
	} else if recv != nil && recv.Mode == ModeReal {
		// An upgrade killed after its prefix swap: the prefix leads back
		// to the payload the receipt records.
		if t, err := in.root.Readlink(rel(recv.Prefix)); err == nil && t != path.Base(recv.PayloadDir) && in.journalNames(path.Join(path.Dir(recv.Prefix), t)) {
			if fi, err := in.root.Lstat(rel(recv.PayloadDir)); err == nil && fi.IsDir() {
				if err := in.relink(recv.Prefix, path.Base(recv.PayloadDir)); err == nil {
					in.opt.Log.Info().Str("prefix", recv.Prefix).Msg("an interrupted upgrade was undone: the prefix leads to the recorded payload again")
				}
			}
		}
	}
	var pendingConf map[string]string
	if jr.Pending != nil {
		pendingConf = map[string]string{}
		for _, cf := range jr.Pending.Configs {
			pendingConf[cf.Path] = cf.SHA256
		}
	}
	bs := jr.Backups
	if jr.Pending != nil {
		bs = append(slices.Clone(jr.Pending.Backups), bs...)
	}
	done := map[string]bool{}
	for i := len(bs) - 1; i >= 0; i-- {
		x := bs[i]
		if inReceipt[x.Backup] || done[x.Backup] {
			continue
		}
		done[x.Backup] = true
		if _, err := in.root.Lstat(rel(x.Backup)); err != nil {
			continue
		}
		if fi, err := in.root.Lstat(rel(x.Path)); err == nil {
			if !in.provablyOurs(jr, x.Path, fi, pendingConf) {
				in.opt.Log.Warn().Str("path", x.Path).Str("backup", x.Backup).Msg("an interrupted run left a backup it did not record; something this installer did not write stands at its path, so the backup stays where it is")
				continue
			}
			if err := in.root.Remove(rel(x.Path)); err != nil {
				continue
			}
		}
		if err := in.root.Rename(rel(x.Backup), rel(x.Path)); err == nil {
			in.opt.Log.Info().Str("path", x.Path).Msg("put back what an interrupted run had moved aside")
		}
	}
	active, _ := in.root.Readlink(rel(jr.Prefix))
	for _, d := range jr.Dirs {
		if recorded[d.Path] || path.Base(d.Path) == active && path.Dir(d.Path) == path.Dir(jr.Prefix) {
			continue
		}
		if d.Ino == 0 && !reStaging.MatchString(path.Base(d.Path)) || d.Ino != 0 && in.inode(d.Path) != d.Ino {
			continue
		}
		in.opt.Log.Debug().Str("path", d.Path).Msg("removing a directory an interrupted run made")
		_ = in.root.RemoveAll(rel(d.Path))
	}
	if p := jr.Pending; p != nil && !recorded[p.PayloadDir] && firstInstall {
		if ldconf && jr.NoLdCache {
			// The cache the killed run built: nothing had one before.
			_ = in.root.Remove(rel(ldCache))
			ldconf = false
		}
		in.removeCreatedDirs(p.CreatedDirs)
	}
	in.settleJournal()
	if ldconf && in.ctx != nil {
		_ = in.ldconfig(in.ctx)
	}
}

// provablyOurs says whether the thing at p (fi) was written by the killed
// run the journal records: the prefix as a link to a journaled payload, a
// command link into the prefix, or a config file with the content it wrote.
func (in *Installer) provablyOurs(jr *journal, p string, fi fs.FileInfo, conf map[string]string) bool {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := in.root.Readlink(rel(p))
		if err != nil {
			return false
		}
		if p == jr.Prefix {
			return in.journalNames(path.Join(path.Dir(jr.Prefix), t))
		}
		return in.linkIntoPrefix(jr.Prefix, p, t)
	case fi.Mode().IsRegular():
		want, ok := conf[p]
		if !ok {
			return false
		}
		b, ok, err := in.readFile(p, maxConfigFile)
		return err == nil && ok && sum(b) == want
	}
	return false
}

// undoPending undoes a commit the journal records that no receipt records
// (a first install killed before its receipt): its command links that still
// point into the prefix, the prefix link to its payload, config files that
// still hold what it wrote (its lines out of a merged file). Backups and
// directories are recoverJournal's. It reports whether a glibc linker
// config was removed (ldconfig then runs again).
func (in *Installer) undoPending(p *Receipt) bool {
	in.opt.Log.Info().Str("prefix", p.Prefix).Msg("undoing a first install that was interrupted before its receipt was written")
	for _, l := range p.Links {
		if t, err := in.root.Readlink(rel(l.Path)); err == nil && in.linkIntoPrefix(p.Prefix, l.Path, t) {
			_ = in.root.Remove(rel(l.Path))
		}
	}
	if t, err := in.root.Readlink(rel(p.Prefix)); err == nil && t == path.Base(p.PayloadDir) {
		_ = in.root.Remove(rel(p.Prefix))
	}
	ld := false
	for _, cf := range p.Configs {
		b, ok, err := in.readFile(cf.Path, maxConfigFile)
		if err != nil || !ok {
			continue
		}
		switch {
		case sum(b) == cf.SHA256 && cf.Created:
			if in.root.Remove(rel(cf.Path)) == nil && cf.Path == glibcLinkerConf {
				ld = true
			}
		case len(cf.Lines) > 0:
			if data := unmerge(b, cf); string(data) != string(b) {
				_ = in.writeFileAtomic(cf.Path, data, in.permOf(cf.Path))
			}
		}
	}
	return ld
}
