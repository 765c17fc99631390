package pack

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/rootfs"
	"slurm-installer/verify"
)

// A self-contained bundle carries glibc itself: its loader and every system
// library the payload needs, so a glibc-built client runs in a musl root, a
// distroless root or any other Linux root of its arch with no linker
// configuration. The executables' PT_INTERP is rewritten to
// <prefix>/lib/<loader> (it must be absolute, which ties the bundle to the
// prefix it was packed for) and every ELF's RUNPATH to $ORIGIN-relative
// directories of the payload, with the publisher's patchelf.

// lookPath finds patchelf; tests replace it.
var lookPath = exec.LookPath

// runtimeLibs are loaded by glibc at run time with dlopen, so no DT_NEEDED
// names them: the NSS modules for `files` (localhost from /etc/hosts) and
// `dns`, the resolver they use, and libgcc_s (pthread_cancel and unwinding).
var runtimeLibs = []string{"libnss_files.so.2", "libnss_dns.so.2", "libresolv.so.2", "libgcc_s.so.1"}

// DefaultPrefix is where bundles are installed unless told otherwise.
const DefaultPrefix = "/usr/local/slurm"

// depPlan is what a self-contained payload needs from the sysroot.
type depPlan struct {
	Loader    string            // sysroot host path of the glibc loader
	LoaderRel string            // lib/<loader base name> in the payload
	Libs      map[string]string // soname -> sysroot host path, for libraries the payload lacks
	ELFs      []elfFile         // every ELF in the payload before anything is added
	LibDirs   []string          // payload-relative library directories, searched in order
}

type elfFile struct {
	rel    string
	interp string
	needed []string
}

func (e elfFile) executable() bool { return e.interp != "" }

// readELF returns the PT_INTERP and DT_NEEDED of the file at p; ok is false
// when p is not an ELF file.
func readELF(p string, want elf.Machine) (interp string, needed []string, ok bool, err error) {
	f, err := elf.Open(p)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) || errors.Is(err, io.EOF) {
			return "", nil, false, nil
		}
		return "", nil, false, err
	}
	defer f.Close()
	if want != elf.EM_NONE && f.Machine != want {
		return "", nil, true, fmt.Errorf("%s is built for %s, not %s", p, f.Machine, want)
	}
	if interp, err = rootfs.Interp(f); err != nil {
		return "", nil, true, fmt.Errorf("%s: %w", p, err)
	}
	needed, err = f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return "", nil, true, fmt.Errorf("%s: read DT_NEEDED: %w", p, err)
	}
	return interp, needed, true, nil
}

// payloadLibDirs are the payload's own library directories: lib always,
// lib64 when present, lib/slurm when libslurmfull is a real file there
// (Debian's layout).
func payloadLibDirs(payload string) []string {
	dirs := []string{"lib"}
	if fi, err := os.Stat(filepath.Join(payload, "lib64")); err == nil && fi.IsDir() {
		dirs = append(dirs, "lib64")
	}
	if m, _ := filepath.Glob(filepath.Join(payload, "lib", "slurm", "libslurmfull*")); len(m) > 0 {
		for _, p := range m {
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
				dirs = append(dirs, "lib/slurm")
				break
			}
		}
	}
	return dirs
}

// planDeps walks DT_NEEDED of every ELF in payload (commands, libraries,
// plugins) and of every library it takes from sysroot, transitively, plus
// [runtimeLibs]: each name the payload's library directories lack is
// resolved in sysroot's glibc directories.
func planDeps(payload string, sys *rootfs.FS, arch string) (*depPlan, error) {
	machine := platform.ELFMachine(arch)
	plan := &depPlan{Libs: map[string]string{}, LibDirs: payloadLibDirs(payload)}
	err := filepath.WalkDir(payload, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		interp, needed, ok, err := readELF(p, machine)
		if err != nil || !ok {
			return err
		}
		rel, _ := filepath.Rel(payload, p)
		plan.ELFs = append(plan.ELFs, elfFile{rel: filepath.ToSlash(rel), interp: interp, needed: needed})
		return nil
	})
	if err != nil {
		return nil, failure.New(failure.Usage, "read the payload: %w", err)
	}
	var loaderBase string
	for _, e := range plan.ELFs {
		if !e.executable() {
			continue
		}
		b := path.Base(e.interp)
		if !strings.HasPrefix(b, "ld-linux") {
			return nil, failure.New(failure.Usage, "%s uses the loader %s: a self-contained bundle carries glibc's loader, so it is for glibc-built payloads", e.rel, e.interp)
		}
		if loaderBase == "" {
			loaderBase = b
			host, err := sys.Resolve(e.interp)
			if err != nil {
				host, err = sys.Resolve(platform.GlibcLoader(arch))
			}
			if err != nil {
				// A sysroot unpacked from packages (no /lib64 or /lib links yet).
				if h, err2 := sys.Resolve(path.Join("/usr/lib", rootfs.Triplet(arch), b)); err2 == nil {
					host, err = h, nil
				}
			}
			if err != nil {
				return nil, failure.New(failure.Usage, "the sysroot %s has no glibc loader %s: %w", sys.Dir, e.interp, err).
					WithHint("pack on the build host").Suggest(failure.GiveSysroot)
			}
			plan.Loader = host
		} else if b != loaderBase {
			return nil, failure.New(failure.Usage, "%s uses the loader %s but other commands use %s", e.rel, e.interp, loaderBase)
		}
	}
	if loaderBase == "" {
		return nil, failure.New(failure.Usage, "no executable in the payload has an ELF interpreter: nothing to make self-contained")
	}
	plan.LoaderRel = "lib/" + loaderBase

	have := func(name string) bool {
		if name == loaderBase {
			return true
		}
		if _, ok := plan.Libs[name]; ok {
			return true
		}
		for _, d := range plan.LibDirs {
			if _, err := os.Stat(filepath.Join(payload, filepath.FromSlash(d), name)); err == nil {
				return true
			}
		}
		return false
	}
	sysDirs := rootfs.LibDirs(sys, rootfs.Glibc, arch)
	type want struct{ name, by string }
	var queue []want
	for _, e := range plan.ELFs {
		for _, n := range e.needed {
			queue = append(queue, want{n, e.rel})
		}
	}
	for _, n := range runtimeLibs {
		queue = append(queue, want{n, "glibc at run time"})
	}
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		if have(w.name) {
			continue
		}
		var host string
		for _, d := range sysDirs {
			if h, err := sys.Resolve(path.Join(d, w.name)); err == nil {
				if fi, err := os.Stat(h); err == nil && fi.Mode().IsRegular() {
					host = h
					break
				}
			}
		}
		if host == "" {
			return nil, failure.New(failure.Usage, "%s needs %s, which is neither in the payload nor in the sysroot %s (searched %s)",
				w.by, w.name, sys.Dir, strings.Join(sysDirs, ", ")).
				WithHint("install the package that provides it on the build host").Suggest(failure.GiveSysroot)
		}
		plan.Libs[w.name] = host
		_, needed, ok, err := readELF(host, machine)
		if err != nil || !ok {
			return nil, failure.New(failure.Usage, "%s (for %s) is not a usable %s ELF library: %v", host, w.name, arch, err)
		}
		for _, n := range needed {
			queue = append(queue, want{n, w.name})
		}
	}
	return plan, nil
}

// selfContain copies the payload at o.From into a temporary directory, adds
// glibc's loader and the system libraries it needs from o.Sysroot, rewrites
// interpreters and RUNPATHs with patchelf, and records the prefix in
// VERSION. The input is never modified. cleanup removes the copy.
func selfContain(o Options, arch string) (dir string, libs []string, cleanup func(), err error) {
	patchelf, err := lookPath("patchelf")
	if err != nil {
		return "", nil, nil, failure.New(failure.Usage, "a self-contained bundle needs patchelf to pack (on the build host only; installers never need it)").
			Suggest(failure.GivePatchelf)
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !path.IsAbs(prefix) {
		return "", nil, nil, failure.New(failure.Usage, "the install prefix %q must be absolute: it is written into every command's ELF interpreter", prefix)
	}
	prefix = path.Clean(prefix)
	sysroot := o.Sysroot
	if sysroot == "" {
		sysroot = "/"
	}
	if fi, err := os.Stat(sysroot); err != nil || !fi.IsDir() {
		return "", nil, nil, failure.New(failure.Usage, "the sysroot %s is not a directory", sysroot).Suggest(failure.GiveSysroot)
	}
	sys := rootfs.New(sysroot)
	if err := checkSysrootGlibc(o.From, sys, arch); err != nil {
		return "", nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "slurm-pack-sc-")
	if err != nil {
		return "", nil, nil, failure.Wrap(failure.FileSystem, err)
	}
	// Not the named result: every error return below sets that to nil
	// before this deferred func runs (issue 14: it panicked).
	remove := func() { os.RemoveAll(tmp) }
	defer func() {
		if err != nil {
			remove()
		}
	}()
	dir = filepath.Join(tmp, "payload")
	if err := copyTree(o.From, dir); err != nil {
		return "", nil, nil, failure.New(failure.FileSystem, "copy %s: %w", o.From, err)
	}
	plan, err := planDeps(dir, sys, arch)
	if err != nil {
		return "", nil, nil, err
	}
	added := []string{plan.LoaderRel}
	if err := copyFile(plan.Loader, filepath.Join(dir, filepath.FromSlash(plan.LoaderRel)), 0o755); err != nil {
		return "", nil, nil, err
	}
	for name, host := range plan.Libs {
		rel := "lib/" + name
		if err := copyFile(host, filepath.Join(dir, "lib", name), 0o644); err != nil {
			return "", nil, nil, err
		}
		added = append(added, rel)
		plan.ELFs = append(plan.ELFs, elfFile{rel: rel})
	}
	sort.Strings(added)
	interp := path.Join(prefix, plan.LoaderRel)
	for _, e := range plan.ELFs {
		args := []string{"--set-rpath", runpath(e.rel, plan.LibDirs)}
		if e.executable() {
			args = []string{"--set-interpreter", interp, "--set-rpath", absRunpath(prefix, plan.LibDirs)}
		}
		args = append(args, filepath.Join(dir, filepath.FromSlash(e.rel)))
		if out, err := exec.Command(patchelf, args...).CombinedOutput(); err != nil {
			return "", nil, nil, failure.New(failure.Internal, "patchelf %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	version := o.Version
	meta := fmt.Sprintf("%s\nself_contained=true\nprefix=%s\n", version, prefix)
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte(meta), 0o644); err != nil {
		return "", nil, nil, failure.Wrap(failure.FileSystem, err)
	}
	return dir, added, remove, nil
}

// checkSysrootGlibc refuses a sysroot whose glibc is older than what the
// payload's ELFs need: the bundle would carry a libc too old for its own
// commands ("version `GLIBC_2.38' not found" wherever it is installed).
func checkSysrootGlibc(payload string, sys *rootfs.FS, arch string) error {
	need, by, err := verify.PayloadGlibcNeed(payload)
	if err != nil {
		return failure.New(failure.Usage, "read the payload: %w", err)
	}
	if need == "" {
		return nil
	}
	have, file, err := rootfs.GlibcVersion(sys, arch)
	if err != nil {
		return failure.New(failure.Usage, "the payload needs glibc %s but the sysroot %s has no usable glibc: %w", need, sys.Dir, err).
			Suggest(failure.GiveSysroot, need)
	}
	if rootfs.CompareVersions(have, need) >= 0 {
		return nil
	}
	return failure.New(failure.Usage, "refusing to pack a self-contained bundle: the payload needs glibc %s (GLIBC_%s, needed by %s) but the sysroot %s has glibc %s (%s); the bundle would carry a glibc too old for its own commands",
		need, need, listFew(by, 3), sys.Dir, have, file).
		Suggest(failure.GiveSysroot, need)
}

func listFew(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// runpath is the RUNPATH of the library or plugin rel: each library directory
// relative to the file's own directory ($ORIGIN). RUNPATH is not inherited
// by a library's dependencies or by dlopen, which is why every ELF gets one.
func runpath(rel string, libDirs []string) string {
	var rp []string
	for _, d := range libDirs {
		r, _ := filepath.Rel(path.Dir(rel), d)
		r = filepath.ToSlash(r)
		if r == "." {
			rp = append(rp, "$ORIGIN")
		} else {
			rp = append(rp, "$ORIGIN/"+r)
		}
	}
	return strings.Join(rp, ":")
}

// absRunpath is an executable's RUNPATH: the library directories under the
// prefix. glibc finds a main program's $ORIGIN through /proc/self/exe, which
// a chroot or a minimal container may lack, and the interpreter already
// ties the bundle to prefix, so executables get absolute paths.
func absRunpath(prefix string, libDirs []string) string {
	var rp []string
	for _, d := range libDirs {
		rp = append(rp, path.Join(prefix, d))
	}
	return strings.Join(rp, ":")
}

// copyTree copies src to dst: directories, regular files with their
// permissions, symlinks as they are.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(out, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, out)
		case info.Mode().IsRegular():
			return copyFile(p, out, info.Mode().Perm())
		}
		return fmt.Errorf("%s: unsupported file type %s", p, info.Mode().Type())
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return failure.Wrap(failure.FileSystem, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm|0o200)
	if err != nil {
		return failure.Wrap(failure.FileSystem, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return failure.New(failure.FileSystem, "copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return failure.Wrap(failure.FileSystem, err)
	}
	return os.Chmod(dst, perm)
}
