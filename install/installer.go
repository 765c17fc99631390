package install

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/safeio"
)

// pathBreaking is what a prefix or command directory must not hold: PATH's
// separator (the command directory goes into every login shell's PATH, and
// a ':' there adds directories to it). Shell metacharacters are data: the
// profile script quotes them.
const pathBreaking = ":"

// stateDir is where the installer keeps its receipt and lock, inside the root.
const stateDir = "/var/lib/slurm-installer"

// Options say where an install goes. Paths other than RootDir are absolute
// paths as seen from inside the root.
type Options struct {
	RootDir string // host path of the target root ("/" for the running system)
	Prefix  string // e.g. /usr/local/slurm
	BinDir  string // e.g. /usr/local/bin
	Arch    string // canonical arch of the target
	Libc    bundle.Libc
	Limits  Limits
	Force   bool // replace command links that are not ours
	Log     zerolog.Logger
}

// Installer writes into one target root. It is not safe for concurrent use;
// runs on one root are serialized by [Installer.Lock].
type Installer struct {
	opt  Options
	root *os.Root
	ctx  context.Context // the run's, once [Installer.Lock] is taken
	jr   *journal        // the journal, read under the lock
	// committing is the commit in progress (its directories are journaled
	// before they are made).
	committing *Commit
}

// context is the run's context (Background before the lock is taken).
func (in *Installer) context() context.Context {
	if in.ctx == nil {
		return context.Background()
	}
	return in.ctx
}

// Open checks the options and opens the target root.
func Open(opt Options) (*Installer, error) {
	if opt.RootDir == "" {
		opt.RootDir = "/"
	}
	for _, p := range []*string{&opt.Prefix, &opt.BinDir} {
		c := path.Clean("/" + strings.TrimPrefix(*p, "/"))
		if !strings.HasPrefix(*p, "/") || c == "/" || strings.Contains(*p, "/../") || strings.HasSuffix(*p, "/..") {
			return nil, failure.New(failure.Usage, "%q must be an absolute path below / (inside the target root)", *p)
		}
		if badShellPath(*p) {
			return nil, failure.New(failure.Usage, "%q holds a control character (a newline?): it cannot be a prefix or command directory", *p)
		}
		if strings.ContainsAny(*p, pathBreaking) {
			// The command directory goes into every login shell's PATH (and
			// the prefix's bin/ beside it): a ':' there adds directories.
			return nil, failure.New(failure.Usage, "%q holds %q, which splits PATH: it cannot be a prefix or command directory", *p, pathBreaking)
		}
		*p = c
		if within(stateDir, c) || within(c, stateDir) {
			return nil, failure.New(failure.Usage, "%s holds or is inside the installer's state directory %s: it cannot be a prefix or command directory", c, stateDir)
		}
	}
	if opt.Prefix == opt.BinDir || strings.HasPrefix(opt.BinDir+"/", opt.Prefix+"/") {
		return nil, failure.New(failure.Usage, "the command directory %s must not be inside the prefix %s", opt.BinDir, opt.Prefix)
	}
	st, err := os.Stat(opt.RootDir)
	if err != nil || !st.IsDir() {
		return nil, failure.New(failure.Usage, "the target root %s is not a directory", opt.RootDir).
			WithHint("create it first, or pass the root of the image being built")
	}
	root, err := os.OpenRoot(opt.RootDir)
	if err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	return &Installer{opt: opt, root: root}, nil
}

// prevReceipt is the valid receipt on disk, nil when there is none or it
// is invalid (an invalid receipt is never acted on).
func (in *Installer) prevReceipt() *Receipt {
	r, err := in.ReadReceipt()
	if err != nil {
		return nil
	}
	return r
}

// Close releases the root.
func (in *Installer) Close() error { return in.root.Close() }

// Options returns the options in effect (cleaned).
func (in *Installer) Options() Options { return in.opt }

// HostPath maps an absolute in-root path to the host path (for reading by
// tools that run outside; writes must use the installer's methods).
func (in *Installer) HostPath(p string) string {
	return filepath.Join(in.opt.RootDir, filepath.FromSlash(p))
}

// rel turns an absolute in-root path into the relative name os.Root wants.
func rel(p string) string {
	r := strings.TrimPrefix(path.Clean("/"+p), "/")
	if r == "" {
		return "."
	}
	return r
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fsErr classifies a file-system error as class 7 with a message that names
// the path and what to do.
func fsErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var fe *failure.Error
	if errors.As(err, &fe) {
		return err
	}
	e := failure.New(failure.FileSystem, "%s %s: %w", op, p, err)
	switch {
	case isNoSpace(err):
		e.WithHint("the file system holding %s is full: free space", p).Suggest(failure.OtherPrefix)
	case errors.Is(err, syscall.EROFS):
		e.WithHint("%s is on a read-only file system: install at image build time", p).Suggest(failure.ReadWriteRoot)
	case errors.Is(err, fs.ErrPermission):
		e.Suggest(failure.WritableRoot)
	}
	return e
}

// writeFileAtomic writes data to the in-root path p via a temp file and a
// rename, so readers see the old content or the new, never a mix.
// permOf is the permission bits of the file at p (a site's file we rewrite
// keeps them), 0644 when there is none.
func (in *Installer) permOf(p string) fs.FileMode {
	if fi, err := in.root.Lstat(rel(p)); err == nil && fi.Mode().IsRegular() {
		return fi.Mode().Perm()
	}
	return 0o644
}

func (in *Installer) writeFileAtomic(p string, data []byte, perm fs.FileMode) error {
	dir := path.Dir(p)
	if err := in.root.MkdirAll(rel(dir), 0o755); err != nil {
		return fsErr("create directory", dir, err)
	}
	tmp := path.Join(dir, tmpPrefix+randomID())
	f, err := in.root.OpenFile(rel(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fsErr("write", p, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = in.root.Chmod(rel(tmp), perm)
	}
	if err == nil {
		err = in.root.Rename(rel(tmp), rel(p))
	}
	if err != nil {
		_ = in.root.Remove(rel(tmp))
		return fsErr("write", p, err)
	}
	return nil
}

// Caps on what the installer reads from a root (docs/DESIGN.md §6).
const (
	// maxStateFile caps the receipt and the journal (a real receipt of a
	// bundle with a thousand files is ~300 KiB).
	maxStateFile = 32 << 20
	// maxConfigFile caps a config file the installer merges into, compares
	// or removes (profile.d script, linker config, musl path file), a
	// bundle's VERSION and the lock's pid.
	maxConfigFile = 1 << 20
)

// readFile reads an in-root path through the one safe reader
// ([safeio.ReadFileIn]: a regular file, no link at its last component, an
// open that cannot block, at most limit bytes, stopped with the run); ok is
// false when it does not exist.
func (in *Installer) readFile(p string, limit int64) ([]byte, bool, error) {
	b, err := safeio.ReadFileIn(in.context(), in.root, rel(p), limit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (in *Installer) String() string {
	return fmt.Sprintf("root %s prefix %s", in.opt.RootDir, in.opt.Prefix)
}
