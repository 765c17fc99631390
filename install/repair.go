package install

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"slurm-installer/internal/failure"
)

// Repair puts back, in place, exactly the payload entries and command links
// that a deep [Installer.CheckIntact] finds missing, changed or extra: files
// and links are restored from src (which must be the receipt's bundle: every
// entry is compared with the receipt's hash before it is used) and extra
// files in the payload are removed. Nothing else is touched. It returns one
// line per repaired path. Each file is written to a temp file beside it and
// renamed into place, so a killed repair leaves every file old or new.
func (in *Installer) Repair(ctx context.Context, r *Receipt, src Source) ([]string, error) {
	if r == nil || r.Mode != ModeReal || r.PayloadDir == "" {
		return nil, failure.New(failure.NotInstalled, "nothing to repair: no real install recorded in %s", ReceiptPath).
			Suggest(failure.NoRepair)
	}
	probs := in.CheckIntact(r, true)
	if len(probs) == 0 {
		return nil, nil
	}
	bad := map[string]string{}
	for _, p := range probs {
		bad[p.Path] = p.What
	}
	st, err := in.Stage(ctx, src)
	if err != nil {
		return nil, err
	}
	defer st.Discard()
	staged := map[string]Entry{}
	for _, e := range st.Files {
		staged[e.Path] = e
	}
	var done []string
	// The prefix link itself: point it back at the receipt's payload.
	payload := path.Base(r.PayloadDir)
	if t, err := in.root.Readlink(rel(r.Prefix)); err != nil || t != payload {
		if _, err := in.root.Lstat(rel(r.Prefix)); err == nil && !isPayloadName(r.Prefix, t) {
			// a real directory, a file, or a link someone else made: not ours to replace
			return nil, failure.New(failure.FileSystem, "%s is no longer the link this installer made", r.Prefix).
				Suggest(failure.Reinstall) // the forced install moves it aside
		}
		if err := in.mkdirAll(nil, r.PayloadDir); err != nil {
			return nil, err
		}
		if err := in.relink(r.Prefix, payload); err != nil {
			return nil, fsErr("link", r.Prefix, err)
		}
		done = append(done, r.Prefix+": relinked to "+payload)
	}
	files := append([]Entry(nil), r.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path }) // parents first
	for _, e := range files {
		what, ok := bad[path.Join(r.Prefix, e.Path)]
		if !ok {
			continue
		}
		s, ok := staged[e.Path]
		if !ok || s.Type != e.Type || s.SHA256 != e.SHA256 || s.Target != e.Target {
			return done, failure.New(failure.Integrity, "cannot repair %s: the bundle (%s) does not hold the file the receipt lists", path.Join(r.Prefix, e.Path), src.Path).
				WithHint("repair from the bundle that is installed").Suggest(failure.Reinstall)
		}
		dst := path.Join(r.PayloadDir, e.Path)
		if err := in.restoreEntry(path.Join(st.PayloadRel, e.Path), dst, e); err != nil {
			return done, fsErr("restore", path.Join(r.Prefix, e.Path), err)
		}
		done = append(done, path.Join(r.Prefix, e.Path)+": "+what+", restored")
	}
	var extras []string
	for p, what := range bad {
		if what == "extra" {
			extras = append(extras, p)
		}
	}
	sort.Strings(extras)
	for _, p := range extras {
		relp := strings.TrimPrefix(p, r.Prefix+"/")
		if err := in.root.RemoveAll(rel(path.Join(r.PayloadDir, relp))); err != nil {
			return done, fsErr("remove", p, err)
		}
		done = append(done, p+": extra, removed")
	}
	for _, l := range r.Links {
		what, ok := bad[l.Path]
		if !ok {
			continue
		}
		if err := in.root.MkdirAll(rel(path.Dir(l.Path)), 0o755); err != nil {
			return done, fsErr("create directory", path.Dir(l.Path), err)
		}
		if fi, err := in.root.Lstat(rel(l.Path)); err == nil && fi.IsDir() {
			return done, failure.New(failure.FileSystem, "cannot repair %s: it is now a directory; move it away first", l.Path).
				Suggest(failure.RepairAgain)
		}
		if fi, err := in.root.Lstat(rel(l.Path)); err == nil {
			t, _ := in.root.Readlink(rel(l.Path))
			if fi.Mode()&fs.ModeSymlink == 0 || !in.linkIntoPrefix(r.Prefix, l.Path, t) {
				return done, notOurs(l.Path, in.describePath(l.Path), "it was changed to something that does not lead into "+r.Prefix+"; repair does not replace it")
			}
		}
		if err := in.relink(l.Path, l.Target); err != nil {
			return done, fsErr("link", l.Path, err)
		}
		done = append(done, l.Path+": "+what+", relinked")
	}
	return done, nil
}

// restoreEntry makes dst (in-root) the entry e, copying a file from the
// staged src. A file or link is replaced by a rename, never truncated in place.
func (in *Installer) restoreEntry(src, dst string, e Entry) error {
	if err := in.root.MkdirAll(rel(path.Dir(dst)), 0o755); err != nil {
		return err
	}
	fi, err := in.root.Lstat(rel(dst))
	if err == nil && (e.Type != "dir") == fi.IsDir() {
		// wrong kind (a directory where a file was, or the reverse)
		if err := in.root.RemoveAll(rel(dst)); err != nil {
			return err
		}
	}
	switch e.Type {
	case "dir":
		if err := in.root.Mkdir(rel(dst), e.Mode.Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return in.root.Chmod(rel(dst), e.Mode.Perm())
	case "symlink":
		return in.relink(dst, e.Target)
	}
	tmp := path.Join(path.Dir(dst), tmpPrefix+randomID())
	s, err := in.root.Open(rel(src))
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := in.root.OpenFile(rel(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(d, s)
	if err == nil {
		err = d.Sync()
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = in.root.Chmod(rel(tmp), e.Mode.Perm())
	}
	if err == nil {
		err = in.root.Rename(rel(tmp), rel(dst))
	}
	if err != nil {
		_ = in.root.Remove(rel(tmp))
	}
	return err
}
