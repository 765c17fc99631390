package install

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/slurmver"
)

// Source is a verified artifact to install: an archive file, or a directory
// holding bin/, lib/ and VERSION (the tree layout).
type Source struct {
	Path string
	Tree bool
}

// Staged is an extracted, not yet committed payload. Its directory lives
// beside the prefix (same file system) so the commit is a rename.
type Staged struct {
	in         *Installer
	stagingDir string  // in-root path of the staging directory
	PayloadRel string  // in-root path of the payload root (holds bin/)
	Version    string  // from the payload's VERSION file, "" if none
	Files      []Entry // payload entries, paths relative to the payload root
	Commands   []string
	EtcFiles   []Entry           // files the bundle carries for /etc/slurm, relative to that dir
	etcSrc     map[string]string // EtcFiles path -> in-root path of the staged file
	// createdDirs are the directories Stage created (the prefix's parent
	// and its missing parents): the commit records them, Discard removes them.
	createdDirs []string
	Took        time.Duration

	// SelfContained bundles carry glibc's loader and libraries (VERSION's
	// self_contained=true); their ELFs name PackedPrefix, the only prefix
	// they run at, and they need no linker configuration.
	SelfContained bool
	PackedPrefix  string

	discardDirs bool
}

const stagingPrefix = ".slurm-installer-staging-"

// PayloadDir is the host path of the staged payload, for preflight checks.
func (s *Staged) PayloadDir() string { return s.in.HostPath(s.PayloadRel) }

// Discard removes the staging directory.
func (s *Staged) Discard() {
	if s != nil && s.stagingDir != "" {
		if s.in.root.RemoveAll(rel(s.stagingDir)) == nil {
			s.in.unjournalDir(s.stagingDir)
		}
	}
	if s != nil && s.discardDirs {
		s.in.removeCreatedDirs(s.createdDirs)
	}
}

// keepDirs tells Discard that the commit now owns the created directories.
func (s *Staged) keepDirs() { s.discardDirs = false }

// Stage extracts src into a new staging directory next to the prefix,
// applying the entry rules and limits, and locates the payload root.
func (in *Installer) Stage(ctx context.Context, src Source) (_ *Staged, err error) {
	start := time.Now()
	parent := path.Dir(in.opt.Prefix)
	var createdDirs []string
	if err := in.mkdirAll(&createdDirs, parent); err != nil {
		return nil, err
	}
	st := &Staged{in: in, stagingDir: path.Join(parent, stagingPrefix+randomID()), createdDirs: createdDirs, discardDirs: true, etcSrc: map[string]string{}}
	defer func() {
		if err != nil {
			st.Discard() // the staging and the directories made for it: nothing stays
		}
	}()
	// Leftovers of killed runs were removed by CleanStale when the lock was
	// taken. Check the space before writing anything (docs/DESIGN.md §6: a failed run
	// leaves everything as it was); a file system that fills up anyway
	// (other writers, inodes) is reported with the same numbers.
	// Reading the headers costs a full decompression, so it is skipped when
	// the free space exceeds what the limits could ever let the bundle
	// expand to; an ENOSPC that happens anyway is measured then.
	var need, nEntries int64
	known := false
	measure := func() (int64, int64) {
		if !known {
			need, nEntries, known = unpackedSize(ctx, src)
		}
		return need, nEntries
	}
	lim := in.opt.Limits.withDefaults()
	if free, ok := freeBytes(in.HostPath(parent)); !ok || free < lim.MaxSize+int64(lim.MaxEntries)*4096 {
		measure()
		if ok && known && free < need {
			return nil, in.noSpace(parent, need, nEntries, nil)
		}
	}
	// Journaled before it is made: only a journaled directory is ever
	// removed as a leftover (docs/DESIGN.md §5, delete only by record).
	if err := in.journalDir(st.stagingDir, 0); err != nil {
		return nil, err
	}
	if err := in.root.Mkdir(rel(st.stagingDir), 0o700); err != nil {
		if isNoSpace(err) {
			need, nEntries := measure()
			return nil, in.noSpace(parent, need, nEntries, err)
		}
		return nil, fsErr("create staging directory", st.stagingDir, err)
	}
	raw := path.Join(st.stagingDir, "raw")
	if err := in.root.Mkdir(rel(raw), 0o755); err != nil {
		if isNoSpace(err) {
			need, nEntries := measure()
			return nil, in.noSpace(parent, need, nEntries, err)
		}
		return nil, fsErr("create staging directory", raw, err)
	}
	var entries []Entry
	if src.Tree {
		entries, err = extractTree(ctx, src.Path, in.HostPath(raw), in.opt.Limits, in.opt.Log)
	} else {
		entries, err = ExtractArchive(ctx, src.Path, in.HostPath(raw), in.opt.Limits, in.opt.Log)
	}
	if err != nil {
		if isNoSpace(err) {
			need, nEntries := measure()
			return nil, in.noSpace(parent, need, nEntries, err)
		}
		return nil, err
	}
	payload, err := findPayload(entries, in.opt.Prefix)
	if err != nil {
		return nil, err
	}
	st.PayloadRel = path.Join(raw, payload)
	for _, e := range entries {
		full := e.Path // relative to the archive root
		if r, ok := under(full, payload); ok {
			e.Path = r
			st.Files = append(st.Files, e)
			if d, name := path.Split(r); d == "bin/" && e.Type != "dir" {
				st.Commands = append(st.Commands, name)
			}
		}
		// /etc/slurm files: the tarball layout's top-level etc/slurm/, or
		// etc/slurm/ inside the payload (what pack publishes when the tree
		// it packs has one). The first found wins.
		var er string
		var ok bool
		if payload != "" {
			er, ok = under(full, "etc/slurm")
		}
		if !ok {
			er, ok = under(full, path.Join(payload, "etc/slurm"))
		}
		if ok && e.Type == "file" {
			if _, dup := st.etcSrc[er]; !dup {
				st.etcSrc[er] = path.Join(raw, full)
				e.Path = er
				st.EtcFiles = append(st.EtcFiles, e)
			}
		}
	}
	if err := checkPayloadLinks(st.Files); err != nil {
		return nil, err
	}
	if len(st.Commands) == 0 {
		return nil, failure.New(failure.Archive, "the bundle's bin/ holds no commands: it is empty or mis-packed").
			Suggest(failure.Repack)
	}
	sort.Strings(st.Commands)
	if b, ok, _ := in.readFile(path.Join(st.PayloadRel, "VERSION"), maxConfigFile); ok {
		st.Version = parseVersionFile(b)
		st.SelfContained, st.PackedPrefix = parseVersionMeta(b)
	}
	if err := in.ensureSBOM(st); err != nil {
		return nil, err
	}
	st.Took = time.Since(start)
	return st, nil
}

// parseVersionFile reads the first non-empty, non-comment line of VERSION,
// accepting "22.05.8", "slurm 22.05.8" or "VERSION=22.05.8".
func parseVersionFile(b []byte) string { return slurmver.FromFile(b) }

// parseVersionMeta reads the key=value lines that follow the version in
// VERSION: self_contained=true and prefix=/usr/local/slurm.
func parseVersionMeta(b []byte) (selfContained bool, prefix string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "self_contained":
			selfContained = strings.TrimSpace(v) == "true"
		case "prefix":
			prefix = path.Clean(strings.TrimSpace(v))
		}
	}
	return selfContained, prefix
}

func under(p, dir string) (string, bool) {
	if dir == "" {
		return p, true
	}
	if strings.HasPrefix(p, dir+"/") {
		return strings.TrimPrefix(p, dir+"/"), true
	}
	return "", false
}

// findPayload locates the payload root among the extracted entries: the
// prefix's own path (usr/local/slurm for the AppHub tarball), a single top
// directory, or the archive root — the first that holds bin/.
func findPayload(entries []Entry, prefix string) (string, error) {
	dirs := map[string]bool{}
	tops := map[string]bool{}
	for _, e := range entries {
		if e.Type == "dir" {
			dirs[e.Path] = true
		}
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true // archives may omit directory entries
		}
		tops[strings.SplitN(e.Path, "/", 2)[0]] = true
	}
	hasBin := func(d string) bool { return dirs[path.Join(d, "bin")] }
	candidates := []string{"usr/local/slurm", strings.TrimPrefix(prefix, "/")}
	if len(tops) == 1 {
		for t := range tops {
			candidates = append(candidates, t)
		}
	}
	for _, c := range candidates {
		if hasBin(c) {
			return c, nil
		}
	}
	if dirs["bin"] {
		return "", nil
	}
	return "", failure.New(failure.Archive, "no payload found in the bundle: looked for bin/ in usr/local/slurm/, %s/, a single top directory and the archive root", strings.TrimPrefix(prefix, "/")).
		WithHint("lay the bundle out as usr/local/slurm/{bin,lib,VERSION}").Suggest(failure.Repack)
}

// checkPayloadLinks makes sure every symlink in the payload resolves inside
// the payload (links that were safe in the archive may point out of the
// part we keep).
func checkPayloadLinks(files []Entry) error {
	for _, e := range files {
		if e.Type != "symlink" {
			continue
		}
		t := path.Join(path.Dir(e.Path), e.Target)
		if t == ".." || strings.HasPrefix(t, "../") {
			return unsafeEntry(e.Path, "symlink to %q leaves the payload", e.Target)
		}
	}
	return nil
}

// CleanStale removes what killed runs leave behind (docs/DESIGN.md §6: a killed
// run leaves a state the next run repairs). It must only run under the
// root's lock, which [Installer.Lock] takes before calling it:
//   - what the journal records of an interrupted run (recoverJournal):
//     its staging and payload directories, its backups, and a first
//     install's links and config files;
//   - in the directories the installer writes files into atomically (bin-dir,
//     the config directories, the state directory): temp files of a write
//     or relink that never got renamed;
//   - in the state directory: download temp directories and the throwaway
//     slurm.conf directories of a version check (verify-*).
func (in *Installer) CleanStale() {
	in.recoverJournal()
	// Directories beside the prefix go only by the journal's record (a
	// site's .slurm-old-20240115 looks like a payload directory); a temp
	// name with the installer's random id is removed only when it is a file
	// or a link (what a write or relink leaves), never a directory.
	for _, dir := range []string{path.Dir(in.opt.Prefix), in.opt.BinDir, "/etc", "/etc/profile.d", "/etc/ld.so.conf.d"} {
		in.removeNames(dir, func(n string) bool {
			if !reTmp.MatchString(n) {
				return false
			}
			fi, err := in.root.Lstat(rel(path.Join(dir, n)))
			return err == nil && !fi.IsDir()
		})
	}
	in.removeNames(stateDir, func(n string) bool {
		return reTmp.MatchString(n) || strings.HasPrefix(n, "verify-")
	})
}

const tmpPrefix = ".slurm-installer-tmp-"

func (in *Installer) removeNames(dir string, match func(string) bool) {
	for _, n := range in.listDir(dir) {
		if match(n) {
			p := path.Join(dir, n)
			in.opt.Log.Debug().Str("path", p).Msg("removing leftover from an interrupted run")
			_ = in.root.RemoveAll(rel(p))
		}
	}
}

// listDir lists the names in the in-root directory dir; nothing when it is
// not a directory (opened with O_DIRECTORY and O_NONBLOCK: a FIFO planted
// at a directory's path is refused at once, never waited on).
func (in *Installer) listDir(dir string) []string {
	d, err := in.root.OpenFile(rel(dir), os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	return names
}

// TempDir makes a scratch directory for downloads in the root's state
// directory and returns its host path. Being inside the root and named like
// the installer's temp files, a directory a killed run leaves is removed
// by the next run's [Installer.CleanStale].
func (in *Installer) TempDir() (string, error) {
	if err := in.root.MkdirAll(rel(stateDir), 0o755); err != nil {
		return "", err
	}
	p := path.Join(stateDir, tmpPrefix+randomID())
	if err := in.root.Mkdir(rel(p), 0o700); err != nil {
		return "", err
	}
	return in.HostPath(p), nil
}

func (in *Installer) versionedPrefix() string { return "." + path.Base(in.opt.Prefix) + "-" }
