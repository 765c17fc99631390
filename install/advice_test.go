package install

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"slurm-installer/internal/failure"
)

// flagRE matches what the package must never print: a slurm-installer
// flag or command line (internal/app words the remedies with those).
var flagRE = regexp.MustCompile(`--[a-z][a-z0-9-]+|slurm-installer (install|pack)`)

// wantAdvice fails t unless err suggests step and neither its message nor
// its hint names a flag.
func wantAdvice(t *testing.T, what string, err error, step failure.Step) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if !slices.Contains(failure.Steps(err), step) {
		t.Errorf("%s: steps %v lack %v (%v)", what, failure.Steps(err), step, err)
	}
	if s := err.Error() + " " + failure.HintOf(err); flagRE.MatchString(s) {
		t.Errorf("%s: names a flag or command: %s", what, s)
	}
}

// TestAdviceIsTyped: the install's errors suggest typed remedies (the
// command line words them with its flags), never a flag themselves.
func TestAdviceIsTyped(t *testing.T) {
	extract := func(ms []member, lim Limits) error {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		os.Mkdir(out, 0o755)
		_, err := ExtractArchive(context.Background(), writeTarGz(t, dir, ms), out, lim, zerolog.Nop())
		return err
	}
	var many []member
	for i := range 30 {
		many = append(many, member{name: fmt.Sprintf("f%d", i), typ: tar.TypeReg, body: "x"})
	}
	wantAdvice(t, "entry bomb", extract(many, Limits{MaxEntries: 20}), failure.RaiseMaxEntries)
	wantAdvice(t, "size bomb", extract([]member{{name: "big", typ: tar.TypeReg, size: 4 << 20}}, Limits{MaxSize: 1 << 20}), failure.RaiseMaxSize)
	err := extract([]member{{name: "/etc/passwd", typ: tar.TypeReg, body: "x"}}, Limits{})
	wantAdvice(t, "unsafe entry", err, failure.Repack)
	if !errors.Is(err, errUnsafeEntry) {
		t.Errorf("unsafe entry: %v is not errUnsafeEntry", err)
	}

	wantAdvice(t, "foreign path", notOurs("/etc/profile.d/slurm.sh", "file", "not in the receipt"), failure.ForceAside)
	wantAdvice(t, "full file system", fsErr("write", "/usr/local/slurm", syscall.ENOSPC), failure.OtherPrefix)
	wantAdvice(t, "read-only file system", fsErr("write", "/usr/local/slurm", syscall.EROFS), failure.ReadWriteRoot)
	wantAdvice(t, "permission", fsErr("write", "/usr/local/slurm", fs.ErrPermission), failure.WritableRoot)

	in := openT(t)
	_, err = in.Repair(context.Background(), nil, Source{})
	wantAdvice(t, "nothing to repair", err, failure.NoRepair)
	if err := in.writeFileAtomic(ReceiptPath, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = in.ReadReceipt()
	wantAdvice(t, "corrupt receipt", err, failure.Reinstall)

	// The ldconfig that could not run carries its advice for the caller,
	// in the one carrier of advice (issue 22), and is still
	// errLoaderCacheNotBuilt, with its message unchanged.
	ce := error(cacheError("ldconfig not run", "add ldconfig to the image", []failure.Remedy{{Step: failure.PackSelfContained}}))
	var fe *failure.Error
	if !errors.As(ce, &fe) || fe.Class != failure.Verify || !errors.Is(ce, errLoaderCacheNotBuilt) || ce.Error() != "ldconfig not run" {
		t.Fatalf("cacheError %v: not a *failure.Error of class verification wrapping errLoaderCacheNotBuilt", ce)
	}
	// Wrapped the way the CLI reports it, the advice still comes through.
	outer := failure.New(failure.Verify, "the installed commands could not start here: %w", ce)
	if h, fix := failure.Advice(outer); h != "add ldconfig to the image" || len(fix) != 1 || fix[0].Step != failure.PackSelfContained {
		t.Errorf("cacheError advice = %q, %v", h, fix)
	}
}

// TestOpenNamesThingsNotFlags: the option checks name the prefix, the
// command directory and the target root, with their values.
func TestOpenNamesThingsNotFlags(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		opt  Options
		want string
	}{
		{Options{RootDir: root, Prefix: "usr/local/slurm", BinDir: "/usr/local/bin"}, `"usr/local/slurm" must be an absolute path below / (inside the target root)`},
		{Options{RootDir: root, Prefix: "/opt/a\nb", BinDir: "/usr/local/bin"}, "it cannot be a prefix or command directory"},
		{Options{RootDir: root, Prefix: "/opt/slurm", BinDir: "/opt/slurm/bin"}, "the command directory /opt/slurm/bin must not be inside the prefix /opt/slurm"},
		{Options{RootDir: filepath.Join(root, "nope"), Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin"}, "the target root " + filepath.Join(root, "nope") + " is not a directory"},
	} {
		_, err := Open(tc.opt)
		if failure.ClassOf(err) != failure.Usage || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("Open(%+v) = %v; want a usage error saying %q", tc.opt, err, tc.want)
		}
		if err != nil && flagRE.MatchString(err.Error()+" "+failure.HintOf(err)) {
			t.Errorf("Open(%+v): names a flag: %v (hint %q)", tc.opt, err, failure.HintOf(err))
		}
	}
}
