package pack

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/sbom"
	"slurm-installer/rootfs"
)

// Packing from a root (pack --from-root, issue 27): SLURM's client installed
// the distro's way (Debian's or Ubuntu's slurm-client, a `make install` into
// a prefix) is turned into the payload pack always takes — bin/ with the
// commands (and sackd), lib/ with every library they need beside the C
// library, lib/slurm/ with the plugins, VERSION — and the distro and
// packages the files came from. Everything is read with chroot semantics
// inside the root (rootfs): absolute links resolve inside it, never on the
// host.

// clientCommands are SLURM's client commands, found by name where no
// package database lists them. sackd (the auth/slurm daemon of a login
// node) is taken too when present.
var clientCommands = []string{"sacct", "sacctmgr", "salloc", "sattach", "sbatch", "sbcast", "scancel", "scontrol",
	"scrontab", "scrun", "sdiag", "sh5util", "sinfo", "sprio", "squeue", "sreport", "srun", "sshare", "sstat",
	"strigger", "sview", "sackd"}

// rootPrefixes are where a root's SLURM client is looked for, in order: the
// distro's own paths, then common prefixes of a `make install`.
var rootPrefixes = []string{"/usr", "/usr/local", "/opt/slurm", "/usr/local/slurm"}

// glibcSonames are the C library's own objects: never bundled (pack leaves
// them to the root, or to --self-contained).
var glibcSonames = map[string]bool{"libc.so.6": true, "libm.so.6": true, "libpthread.so.0": true, "libdl.so.2": true,
	"librt.so.1": true, "libresolv.so.2": true, "libutil.so.1": true, "libanl.so.1": true, "libnsl.so.1": true,
	"libmvec.so.1": true, "libBrokenLocale.so.1": true, "libthread_db.so.1": true, "libc_malloc_debug.so.0": true,
	"ld-linux-x86-64.so.2": true, "ld-linux-aarch64.so.1": true, "linux-vdso.so.1": true}

// FromRoot is a payload assembled from a root.
type FromRoot struct {
	Dir      string        // the payload directory (temporary; Cleanup removes it)
	Version  string        // SLURM's upstream version (22.05.8), "" when nothing says
	Arch     string        // the root's arch
	Origin   *index.Origin // the distro and packages the files came from
	Prefix   string        // where the client was found (/usr, /opt/slurm, ...)
	Plugins  string        // the plugin directory taken, in-root
	Commands []string
	Libs     []string // the libraries taken into lib/, by soname
	// Skipped are plugins left out, each with why (a library they need is
	// not in the root: a feature the root's packages do not provide).
	Skipped []string
	Cleanup func()
}

// AssembleFromRoot finds the SLURM client in the root dir and assembles its
// payload in a temporary directory. arch "" means the root's own.
func AssembleFromRoot(dir, arch string) (_ *FromRoot, err error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, failure.New(failure.Usage, "the root %s is not a directory", dir)
	}
	r := rootfs.New(dir)
	if arch == "" {
		if arch, _, err = rootfs.DetectArch(r); err != nil {
			return nil, failure.New(failure.Usage, "the arch of the root %s: %w", dir, err)
		}
	}
	if arch, err = platform.Normalize(arch); err != nil {
		return nil, failure.New(failure.Usage, "the bundle's arch: %w", err)
	}
	db := readDpkg(r)
	a := &assembly{r: r, arch: arch, machine: platform.ELFMachine(arch), libs: map[string]string{}, took: map[string]string{}}
	if err := a.findCommands(db); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "slurm-pack-root-")
	if err != nil {
		return nil, failure.Wrap(failure.FileSystem, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	a.out = filepath.Join(tmp, "payload")
	for _, d := range []string{"bin", "lib/slurm"} {
		if err := os.MkdirAll(filepath.Join(a.out, d), 0o755); err != nil {
			return nil, failure.Wrap(failure.FileSystem, err)
		}
	}
	if err := a.assemble(); err != nil {
		return nil, err
	}
	fr := &FromRoot{Dir: a.out, Arch: arch, Prefix: a.prefix, Plugins: a.pluginDir, Commands: a.commands, Skipped: a.skipped,
		Cleanup: func() { os.RemoveAll(tmp) }}
	for n := range a.libs {
		fr.Libs = append(fr.Libs, n)
	}
	sort.Strings(fr.Libs)
	fr.Origin, fr.Version = a.origin(db)
	if fr.Version != "" {
		if err := os.WriteFile(filepath.Join(a.out, "VERSION"), []byte(fr.Version+"\n"), 0o644); err != nil {
			return nil, failure.Wrap(failure.FileSystem, err)
		}
	}
	return fr, nil
}

type assembly struct {
	r         *rootfs.FS
	arch      string
	machine   elf.Machine
	out       string // payload host dir
	prefix    string // in-root prefix the commands were found under
	binPaths  map[string]string
	commands  []string
	pluginDir string
	libs      map[string]string // soname -> in-root canonical source, copied into lib/
	took      map[string]string // payload rel -> in-root canonical source
	skipped   []string
}

// findCommands finds sinfo under the first prefix that has it, and every
// client command beside it (the package database's list of slurm-client's
// files where there is one).
func (a *assembly) findCommands(db *dpkgDB) error {
	for _, p := range rootPrefixes {
		if a.r.IsRegular(path.Join(p, "bin", "sinfo")) {
			a.prefix = p
			break
		}
	}
	if a.prefix == "" {
		return failure.New(failure.Usage, "no SLURM client in the root %s: no bin/sinfo under %s", a.r.Dir, strings.Join(rootPrefixes, ", ")).
			WithHint("install the distro's slurm-client package into that root, or give the payload directory itself")
	}
	a.binPaths = map[string]string{}
	names := clientCommands
	if db != nil && a.prefix == "/usr" {
		if files := db.files("slurm-client"); len(files) > 0 {
			names = nil
			for _, f := range files {
				if d, n := path.Split(f); (d == "/usr/bin/" || d == "/bin/") && n != "" {
					names = append(names, n)
				}
			}
			names = append(names, "sackd")
		}
	}
	for _, n := range names {
		for _, d := range []string{"bin", "sbin"} {
			p := path.Join(a.prefix, d, n)
			if _, ok := a.binPaths[n]; !ok && a.r.IsRegular(p) {
				a.binPaths[n] = p
			}
		}
	}
	for n := range a.binPaths {
		a.commands = append(a.commands, n)
	}
	sort.Strings(a.commands)
	return nil
}

// assemble copies the commands and plugins and walks their libraries.
func (a *assembly) assemble() error {
	type want struct{ src, rel string }
	var elfs []want
	for _, n := range a.commands {
		elfs = append(elfs, want{a.binPaths[n], "bin/" + n})
	}
	a.pluginDir = a.findPluginDir()
	var plugins []string
	if a.pluginDir != "" {
		ents, _ := a.r.ReadDir(a.pluginDir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".so") {
				plugins = append(plugins, e.Name())
			}
		}
	}
	// Commands first: a library a command needs that the root lacks is an error.
	for _, w := range elfs {
		if err := a.copyFrom(w.src, w.rel, 0o755); err != nil {
			return err
		}
		if err := a.closure(w.src, w.rel); err != nil {
			return err
		}
	}
	for _, n := range plugins {
		src := path.Join(a.pluginDir, n)
		if n == "libslurmfull.so" || a.libs[n] != "" {
			continue // a library; taken into lib/ when something needs it
		}
		if err := a.closure(src, "lib/slurm/"+n); err != nil {
			// Copied only once every need resolved: nothing to undo.
			a.skipped = append(a.skipped, n+": "+err.Error())
			continue
		}
		if err := a.copyFrom(src, "lib/slurm/"+n, 0o644); err != nil {
			return err
		}
	}
	if _, ok := a.libs["libslurmfull.so"]; ok {
		// As Debian ships it: plugins reach it beside them too.
		if err := os.Symlink("../libslurmfull.so", filepath.Join(a.out, "lib/slurm/libslurmfull.so")); err != nil {
			return failure.Wrap(failure.FileSystem, err)
		}
	}
	return nil
}

// findPluginDir is the directory libslurmfull.so and the plugins live in:
// the first RUNPATH of sinfo that holds libslurmfull.so (Debian's
// /usr/lib/<triplet>/slurm-wlm, a prefix's lib/slurm), else the usual
// places.
func (a *assembly) findPluginDir() string {
	cands := []string{}
	if e, err := a.open(a.binPaths["sinfo"]); err == nil {
		cands = append(cands, e.searchDirs(path.Dir(a.binPaths["sinfo"]))...)
		e.f.Close()
	}
	trip := rootfs.Triplet(a.arch)
	cands = append(cands, path.Join("/usr/lib", trip, "slurm-wlm"), path.Join("/usr/lib", trip, "slurm"),
		path.Join(a.prefix, "lib/slurm"), path.Join(a.prefix, "lib64/slurm"), "/usr/lib64/slurm", "/usr/lib/slurm")
	for _, d := range cands {
		if m, _ := a.r.Glob(path.Join(d, "*.so")); len(m) > 1 {
			if c, err := a.r.Canonical(d); err == nil {
				return c
			}
		}
	}
	return ""
}

type rootELF struct {
	f      *elf.File
	needed []string
	rpath  []string
	runp   []string
}

func (a *assembly) open(inRoot string) (*rootELF, error) {
	h, err := a.r.Resolve(inRoot)
	if err != nil {
		return nil, err
	}
	f, err := elf.Open(h)
	if err != nil {
		return nil, fmt.Errorf("%s is not an ELF file: %w", inRoot, err)
	}
	if f.Machine != a.machine {
		f.Close()
		return nil, fmt.Errorf("%s is built for %s, not %s", inRoot, f.Machine, a.arch)
	}
	e := &rootELF{f: f}
	if e.needed, err = f.ImportedLibraries(); err != nil && err != elf.ErrNoSymbols {
		f.Close()
		return nil, fmt.Errorf("%s: read DT_NEEDED: %w", inRoot, err)
	}
	split := func(tag elf.DynTag) []string {
		v, _ := f.DynString(tag)
		var out []string
		for _, s := range v {
			out = append(out, strings.Split(s, ":")...)
		}
		return out
	}
	e.rpath, e.runp = split(elf.DT_RPATH), split(elf.DT_RUNPATH)
	return e, nil
}

// searchDirs are the directories the loader searches first for this ELF:
// its RUNPATH, or its RPATH when it has no RUNPATH, with $ORIGIN made the
// in-root directory it lies in.
func (e *rootELF) searchDirs(origin string) []string {
	dirs := e.runp
	if len(dirs) == 0 {
		dirs = e.rpath
	}
	var out []string
	for _, d := range dirs {
		d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
		if strings.HasPrefix(d, "/") {
			out = append(out, path.Clean(d))
		}
	}
	return out
}

// closure resolves every DT_NEEDED of the ELF at src (in-root), and of
// each library it takes, transitively, inside the root: its RUNPATH or
// RPATH, then the root's library directories. Libraries are copied into
// lib/ only once every need of src resolved: an unresolved need is an error
// naming it (for a command the pack fails; a plugin is skipped).
func (a *assembly) closure(src, rel string) error {
	type item struct{ src, by string }
	queue := []item{{src, rel}}
	found := map[string]string{} // soname -> in-root canonical path, new in this walk
	seen := map[string]bool{}
	sysDirs := rootfs.LibDirs(a.r, rootfs.Glibc, a.arch)
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.src] {
			continue
		}
		seen[it.src] = true
		e, err := a.open(it.src)
		if err != nil {
			return failure.New(failure.Usage, "read %s in the root: %w", it.src, err)
		}
		dirs := append(e.searchDirs(path.Dir(it.src)), sysDirs...)
		if a.pluginDir != "" {
			dirs = append(dirs, a.pluginDir)
		}
		needed := e.needed
		e.f.Close()
		for _, n := range needed {
			if glibcSonames[n] || a.libs[n] != "" || found[n] != "" {
				continue
			}
			var at string
			for _, d := range dirs {
				if c, err := a.r.Canonical(path.Join(d, n)); err == nil && a.r.IsRegular(c) {
					at = c
					break
				}
			}
			if at == "" {
				return failure.New(failure.Usage, "%s needs %s, which the root %s does not have (searched %s)", it.by, n, a.r.Dir, strings.Join(dedupe(dirs), ", ")).
					WithHint("install the package that provides it into that root")
			}
			found[n] = at
			queue = append(queue, item{at, n})
		}
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := a.takeLib(n, found[n]); err != nil {
			return err
		}
	}
	return nil
}

// takeLib copies the library at src (in-root, canonical) into lib/ under
// its real name, with its soname as a link when the names differ.
func (a *assembly) takeLib(soname, src string) error {
	real := path.Base(src)
	rel := "lib/" + real
	if _, ok := a.took[rel]; !ok {
		if err := a.copyFrom(src, rel, 0o644); err != nil {
			return err
		}
	}
	if real != soname {
		if err := os.Symlink(real, filepath.Join(a.out, "lib", soname)); err != nil && !os.IsExist(err) {
			return failure.Wrap(failure.FileSystem, err)
		}
	}
	a.libs[soname] = src
	return nil
}

// copyFrom copies the regular file at the in-root path src to the payload
// path rel.
func (a *assembly) copyFrom(src, rel string, perm fs.FileMode) error {
	h, err := a.r.Resolve(src)
	if err != nil {
		return failure.New(failure.Usage, "read %s in the root: %w", src, err)
	}
	if err := copyFile(h, filepath.Join(a.out, filepath.FromSlash(rel)), perm); err != nil {
		return err
	}
	if c, err := a.r.Canonical(src); err == nil {
		src = c
	}
	a.took[rel] = src
	return nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// origin is the root's distro and, from its package database, the package
// each payload file came from, and SLURM's upstream version.
func (a *assembly) origin(db *dpkgDB) (*index.Origin, string) {
	osr := readOSRelease(a.r)
	o := &index.Origin{Distro: osr["ID"], DistroVersion: osr["VERSION_ID"]}
	if o.Distro == "" {
		o.Distro = "unknown"
	}
	version := ""
	if db == nil {
		return o, version
	}
	o.Database = "dpkg"
	owners := db.owners(a.r, a.took)
	byPkg := map[string][]string{}
	for rel, p := range owners {
		byPkg[p] = append(byPkg[p], rel)
	}
	names := make([]string, 0, len(byPkg))
	for p := range byPkg {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, n := range names {
		st := db.pkgs[n]
		files := byPkg[n]
		sort.Strings(files)
		op := index.OriginPackage{Name: n, Version: st.version, Arch: st.arch, Files: files,
			PURL:   sbom.DebPURL(o.Distro, o.DistroVersion, n, st.version, st.arch),
			Client: owners["bin/sinfo"] == n}
		if op.Client {
			version = upstreamVersion(st.version)
			o.Packages = append([]index.OriginPackage{op}, o.Packages...)
			continue
		}
		o.Packages = append(o.Packages, op)
	}
	return o, version
}

// upstreamVersion is a Debian version without its epoch and revision:
// 22.05.8-4+deb12u3 → 22.05.8.
func upstreamVersion(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.LastIndex(v, "-"); i > 0 {
		v = v[:i]
	}
	return v
}

func readOSRelease(r *rootfs.FS) map[string]string {
	out := map[string]string{}
	b, err := r.ReadFile("/etc/os-release")
	if err != nil {
		if b, err = r.ReadFile("/usr/lib/os-release"); err != nil {
			return out
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out
}

// dpkgDB is what pack reads of a root's dpkg database: each installed
// package's version and arch, and the files it lists.
type dpkgDB struct {
	r    *rootfs.FS
	pkgs map[string]dpkgPkg
}

type dpkgPkg struct{ version, arch, list string }

// readDpkg reads /var/lib/dpkg/status; nil when the root has none.
func readDpkg(r *rootfs.FS) *dpkgDB {
	b, err := r.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		return nil
	}
	db := &dpkgDB{r: r, pkgs: map[string]dpkgPkg{}}
	for _, para := range strings.Split(string(b), "\n\n") {
		f := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(para))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == ' ' || line[0] == '\t' {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				f[k] = strings.TrimSpace(v)
			}
		}
		name := f["Package"]
		if name == "" || !strings.HasSuffix(f["Status"], " installed") {
			continue
		}
		p := dpkgPkg{version: f["Version"], arch: f["Architecture"], list: "/var/lib/dpkg/info/" + name + ".list"}
		if !r.IsRegular(p.list) {
			p.list = "/var/lib/dpkg/info/" + name + ":" + p.arch + ".list"
		}
		db.pkgs[name] = p
	}
	if len(db.pkgs) == 0 {
		return nil
	}
	return db
}

// files lists the paths the package's .list names.
func (db *dpkgDB) files(name string) []string {
	p, ok := db.pkgs[name]
	if !ok {
		return nil
	}
	b, err := db.r.ReadFile(p.list)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// owners maps each payload path to the package that installed its source:
// a .list path is compared after resolving it inside the root (a usr-merged
// root reaches /lib/x86_64-linux-gnu/... through /usr/lib/...). Only .list
// lines whose base name is one of the sources' are resolved.
func (db *dpkgDB) owners(r *rootfs.FS, took map[string]string) map[string]string {
	bySrc := map[string][]string{}
	bases := map[string]bool{}
	for rel, src := range took {
		bySrc[src] = append(bySrc[src], rel)
		bases[path.Base(src)] = true
	}
	out := map[string]string{}
	names := make([]string, 0, len(db.pkgs))
	for n := range db.pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := r.ReadFile(db.pkgs[n].list)
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			p := string(bytes.TrimSpace(line))
			if p == "" || !bases[path.Base(p)] {
				continue
			}
			c, err := r.Canonical(p)
			if err != nil {
				continue
			}
			for _, rel := range bySrc[c] {
				if _, ok := out[rel]; !ok {
					out[rel] = n
				}
			}
		}
	}
	return out
}
