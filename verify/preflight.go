package verify

import (
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/safeio"
	"slurm-installer/rootfs"
)

// PreflightInput is what Preflight checks: a payload (the staged or
// installed <prefix> contents) against a target root.
type PreflightInput struct {
	PayloadDir string      // host directory holding bin/, lib/, ... of the bundle
	Prefix     string      // where the payload is (or will be) in the root, e.g. /usr/local/slurm
	Root       *rootfs.FS  // the target root
	Arch       string      // the target's canonical arch; "" skips the arch check
	Libc       rootfs.Libc // the target's libc; decides its default library path
	LinkerDirs []string    // in-root dirs the installer adds to the linker config
}

// Report is what Preflight found.
type Report struct {
	Checks  []Check   `json:"checks"`
	Missing []Missing `json:"missing,omitempty"`
	// Versions are symbol versions (GLIBC_2.38, GLIBCXX_3.4.32, ...) that
	// payload files need from a library that resolves but does not define
	// them: the loader refuses such a file ("version `GLIBC_2.38' not found").
	Versions []MissingVersion `json:"missing_versions,omitempty"`
	// GlibcNeed is the highest GLIBC_x.y any payload file needs ("2.38"),
	// GlibcHave the highest the libc.so.6 they resolve to defines.
	GlibcNeed string `json:"glibc_need,omitempty"`
	GlibcHave string `json:"glibc_have,omitempty"`
}

// Check is one line of a report.
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Missing is a loader or library that some payload files need and that
// the target does not provide; each is listed once.
type Missing struct {
	What     string   `json:"what"` // "loader" or "library"
	Name     string   `json:"name"` // the loader's path or the library's soname
	NeededBy []string `json:"needed_by"`
}

// elfInfo is what Preflight reads from one payload file.
type elfInfo struct {
	rel     string // slash path relative to the payload, e.g. bin/sinfo
	arch    string
	machine elf.Machine
	interp  string
	needed  []string
	runpath []string            // DT_RUNPATH, else DT_RPATH
	verneed map[string][]string // DT_NEEDED name -> symbol versions needed from it
}

func (e *elfInfo) plugin() bool { return strings.HasPrefix(e.rel, "lib/slurm/") }

// Preflight checks, from ELF headers only, that every ELF executable and
// shared object in the payload can run in the target: its machine is the
// target's arch, its PT_INTERP loader exists (in the root, or in the
// payload for a self-contained bundle), and every DT_NEEDED library
// resolves through the payload's lib dirs, its RUNPATH/RPATH ($ORIGIN
// expanded), in.LinkerDirs and the target's default and configured library
// path. Plugins in lib/slurm are checked too: they are dlopen()ed at run
// time and fail there just the same.
//
// The report is returned even with an error. The error is of class
// failure.Verify and lists what is missing, once each, with a hint for the
// target's distribution.
func Preflight(in PreflightInput) (*Report, error) {
	if in.Root == nil {
		in.Root = rootfs.New("/")
	}
	if in.Prefix == "" {
		in.Prefix = "/usr/local/slurm"
	}
	in.Prefix = path.Clean("/" + in.Prefix)
	files, err := scanPayload(in.PayloadDir)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	if len(files) == 0 {
		rep.Checks = append(rep.Checks, Check{Name: "elf", Skipped: true, OK: true, Detail: "no ELF files in the payload"})
		return rep, nil
	}
	if err := checkArch(in, files, rep); err != nil {
		return rep, err
	}
	l := &lookup{in: in, cache: map[string]bool{}, sysDirs: map[rootfs.Libc][]string{}}
	l.bundleLibc = in.Libc
	for _, f := range files {
		if lc := bundle.LibcOfLoader(f.interp); lc != "" {
			l.bundleLibc = lc // the loader that will load the libraries too
			break
		}
	}
	missing := map[[2]string]map[string]bool{}
	miss := func(what, name, by string) {
		k := [2]string{what, name}
		if missing[k] == nil {
			missing[k] = map[string]bool{}
		}
		missing[k][by] = true
	}
	loaders := map[string]int{}
	resolved := map[string]bool{}
	var nExec, nNeeded, nPlugins, nPluginNeeded int
	sv := newSymvers()
	for _, f := range files {
		if f.interp != "" && !isLibrary(f.rel) {
			nExec++
			if l.locate(f.interp, f.machine) {
				loaders[f.interp]++
			} else {
				miss("loader", f.interp, f.rel)
			}
		}
		if f.plugin() {
			nPlugins++
			nPluginNeeded += len(f.needed)
		} else {
			nNeeded += len(f.needed)
		}
		for _, n := range f.needed {
			if p, ok := l.find(f, n); ok {
				resolved[n] = true
				sv.check(l, f, n, p)
			} else {
				miss("library", n, f.rel)
			}
		}
	}
	rep.Versions = sv.missing()
	rep.Missing = collectMissing(missing)
	rep.addResolveChecks(resolveCounts{exec: nExec, needed: nNeeded, plugins: nPlugins, pluginNeeded: nPluginNeeded, files: len(files)}, loaders)
	rep.Checks = append(rep.Checks, sv.summary(rep.Versions))
	rep.GlibcNeed, rep.GlibcHave = sv.glibcNeed, sv.glibcHave
	if len(rep.Missing) == 0 && len(rep.Versions) == 0 {
		return rep, nil
	}
	return rep, missingError(in, rep.Missing, rep.Versions)
}

// collectMissing turns what was missing (kind and name → the files that
// need it) into the report's sorted list: loaders first, then by name.
func collectMissing(missing map[[2]string]map[string]bool) []Missing {
	var out []Missing
	for k, by := range missing {
		m := Missing{What: k[0], Name: k[1]}
		for b := range by {
			m.NeededBy = append(m.NeededBy, b)
		}
		sort.Strings(m.NeededBy)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.What != b.What {
			return a.What == "loader"
		}
		return a.Name < b.Name
	})
	return out
}

// resolveCounts are what the resolve pass counted, for the checks.
type resolveCounts struct{ exec, needed, plugins, pluginNeeded, files int }

// addResolveChecks adds the loader, libraries and plugins checks (for the
// human and JSON reports) from the missing list and the counts.
func (rep *Report) addResolveChecks(n resolveCounts, loaders map[string]int) {
	var lost []Missing
	var libMiss, plugMiss int
	for _, m := range rep.Missing {
		if m.What == "loader" {
			lost = append(lost, m)
			continue
		}
		for _, b := range m.NeededBy {
			if strings.HasPrefix(b, "lib/slurm/") {
				plugMiss++
			} else {
				libMiss++
			}
		}
	}
	switch {
	case n.exec == 0:
		rep.Checks = append(rep.Checks, Check{Name: "loader", OK: true, Skipped: true, Detail: "no dynamically linked executables"})
	case len(lost) > 0:
		rep.Checks = append(rep.Checks, Check{Name: "loader", Detail: describeMissing(lost)})
	default:
		var s []string
		for _, name := range sortedKeys(loaders) {
			s = append(s, fmt.Sprintf("%s (%d files)", name, loaders[name]))
		}
		rep.Checks = append(rep.Checks, Check{Name: "loader", OK: true, Detail: "present: " + strings.Join(s, ", ")})
	}
	libCheck := Check{Name: "libraries", OK: libMiss == 0,
		Detail: fmt.Sprintf("%d DT_NEEDED entries of %d commands and libraries resolve", n.needed, n.files-n.plugins)}
	if libMiss > 0 {
		libCheck.Detail = fmt.Sprintf("%d of %d DT_NEEDED entries do not resolve", libMiss, n.needed)
	}
	rep.Checks = append(rep.Checks, libCheck)
	if n.plugins > 0 {
		pc := Check{Name: "plugins", OK: plugMiss == 0,
			Detail: fmt.Sprintf("%d DT_NEEDED entries of %d plugins resolve", n.pluginNeeded, n.plugins)}
		if plugMiss > 0 {
			pc.Detail = fmt.Sprintf("%d of %d DT_NEEDED entries of %d plugins do not resolve", plugMiss, n.pluginNeeded, n.plugins)
		}
		rep.Checks = append(rep.Checks, pc)
	}
}

// verifyInstalled runs the Preflight checks on an installed prefix: the
// payload is in.Prefix resolved inside in.Root (in.PayloadDir, when set,
// wins: a versioned payload directory).
func verifyInstalled(in PreflightInput) (*Report, error) {
	if in.Root == nil {
		in.Root = rootfs.New("/")
	}
	if in.PayloadDir == "" {
		if in.Prefix == "" {
			in.Prefix = "/usr/local/slurm"
		}
		p, err := in.Root.Resolve(in.Prefix)
		if err != nil {
			return nil, failure.New(failure.Verify, "the prefix %s is not in the root: %w", in.Prefix, err).
				Suggest(failure.Install)
		}
		in.PayloadDir = p
	}
	return Preflight(in)
}

// scanPayload reads the ELF headers of every regular file under dir, in
// walk order; symlinks (soname links) are skipped, non-ELF files ignored.
// The files are read by one goroutine per core (parsing is CPU work:
// a real bundle's 143 files, 5 → 3 ms on two cores).
func scanPayload(dir string) ([]*elfInfo, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, failure.New(failure.Verify, "read the payload %s: %w", dir, err)
	}
	infos := make([]*elfInfo, len(paths))
	errs := make([]error, len(paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(paths); i = int(next.Add(1) - 1) {
				infos[i], errs[i] = readELF(paths[i])
			}
		})
	}
	wg.Wait()
	var files []*elfInfo
	for i, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err == nil {
			err = errs[i]
		}
		if err != nil {
			return nil, failure.New(failure.Verify, "read the payload %s: %s: %w", dir, filepath.ToSlash(rel), err)
		}
		if infos[i] != nil {
			infos[i].rel = filepath.ToSlash(rel)
			files = append(files, infos[i])
		}
	}
	return files, nil
}

// readELF reads what Preflight needs from an ELF file; nil, nil when the
// file is not ELF or not an executable or shared object.
func readELF(p string) (*elfInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("corrupt ELF file: %w", err)
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return nil, nil
	}
	info := &elfInfo{arch: platform.FromELF(ef.Machine), machine: ef.Machine}
	if info.interp, err = rootfs.Interp(ef); err != nil {
		return nil, err
	}
	// A stripped file without section headers has no DynString to give;
	// it is then checked for its machine and loader only.
	dyn, _ := readDynamic(ef) // what it cannot read stays empty, as with DynString
	info.needed = dyn.needed
	rp := dyn.runpath
	if len(rp) == 0 {
		rp = dyn.rpath
	}
	for _, s := range rp {
		for _, d := range strings.Split(s, ":") {
			if d != "" {
				info.runpath = append(info.runpath, d)
			}
		}
	}
	info.verneed = dyn.verneed
	return info, nil
}

// checkArch fails when any ELF file is not for the target's arch.
func checkArch(in PreflightInput, files []*elfInfo, rep *Report) error {
	if in.Arch == "" {
		rep.Checks = append(rep.Checks, Check{Name: "arch", OK: true, Skipped: true, Detail: "target arch unknown"})
		return nil
	}
	want := platform.ELFMachine(in.Arch)
	var wrong []*elfInfo
	for _, f := range files {
		if f.machine != want {
			wrong = append(wrong, f)
		}
	}
	if len(wrong) == 0 {
		rep.Checks = append(rep.Checks, Check{Name: "arch", OK: true, Detail: fmt.Sprintf("%d ELF files are %s", len(files), in.Arch)})
		return nil
	}
	bundle := wrong[0].arch
	if bundle == "" {
		bundle = wrong[0].machine.String()
	}
	var names []string
	for _, f := range wrong {
		names = append(names, f.rel)
	}
	detail := fmt.Sprintf("bundle is %s but the target root is %s (%s)", bundle, in.Arch, listSome(names, 3))
	rep.Checks = append(rep.Checks, Check{Name: "arch", Detail: detail})
	return failure.New(failure.Verify, "%s", detail).
		Suggest(failure.OtherArch, in.Arch)
}

// isLibrary tells a shared library from an executable by its name:
// glibc's libc.so.6 has a PT_INTERP too, but is not run as a command.
func isLibrary(rel string) bool { return strings.Contains(path.Base(rel), ".so") }

// muslBuiltin reports whether musl's loader satisfies a DT_NEEDED name
// itself, as ldso/dynlink.c does for lib{c,pthread,rt,m,dl,util,xnet}.so*.
func muslBuiltin(name string) bool {
	rest, ok := strings.CutPrefix(name, "lib")
	if !ok {
		return false
	}
	for _, r := range []string{"c", "pthread", "rt", "m", "dl", "util", "xnet"} {
		if tail, ok := strings.CutPrefix(rest, r+".so"); ok && (tail == "" || tail[0] == '.') {
			return true
		}
	}
	return false
}

// lookup finds loaders and libraries the way the target's loader would.
type lookup struct {
	in         PreflightInput
	bundleLibc rootfs.Libc // the libc whose loader loads the bundle's libraries
	sysDirs    map[rootfs.Libc][]string
	cache      map[string]bool // in-root path -> usable
}

// dirs is the target's library path for the loader of a libc: glibc's
// loader reads ld.so.conf even in a musl root with gcompat, musl's reads
// /etc/ld-musl-<arch>.path.
func (l *lookup) dirs(lc rootfs.Libc) []string {
	d, ok := l.sysDirs[lc]
	if !ok {
		d = rootfs.LibDirs(l.in.Root, lc, l.in.Arch)
		l.sysDirs[lc] = d
	}
	return d
}

// host maps an in-root path to a host path: under the prefix it is in the
// payload, elsewhere in the root (resolved with chroot semantics).
func (l *lookup) host(p string) (string, bool) {
	p = path.Clean(p)
	if p == l.in.Prefix || strings.HasPrefix(p, l.in.Prefix+"/") {
		return filepath.Join(l.in.PayloadDir, filepath.FromSlash(strings.TrimPrefix(p, l.in.Prefix))), true
	}
	h, err := l.in.Root.Resolve(p)
	return h, err == nil
}

// locate reports whether the in-root path p is an ELF file for machine m.
// A file of another machine is skipped, as ld.so skips it.
func (l *lookup) locate(p string, m elf.Machine) bool {
	if l.cache == nil {
		l.cache = map[string]bool{}
	}
	key := p + "\x00" + m.String()
	if ok, seen := l.cache[key]; seen {
		return ok
	}
	ok := false
	if h, found := l.host(p); found {
		if f, _, err := safeio.Open(h); err == nil { // a root's file: never a FIFO waited on
			if ef, err := elf.NewFile(f); err == nil {
				ok = ef.Machine == m
			}
			f.Close()
		}
	}
	l.cache[key] = ok
	return ok
}

// find resolves one DT_NEEDED entry of f and returns the in-root path the
// loader would load ("" with ok for a musl built-in).
func (l *lookup) find(f *elfInfo, name string) (string, bool) {
	if strings.Contains(name, "/") {
		if p := path.Join(l.in.Prefix, path.Dir(f.rel), name); l.locate(p, f.machine) {
			return p, true
		}
		return name, l.locate(name, f.machine)
	}
	lc := l.bundleLibc
	if f.interp != "" {
		if x := bundle.LibcOfLoader(f.interp); x != "" {
			lc = x
		}
	}
	if lc == rootfs.Musl && muslBuiltin(name) {
		return "", true
	}
	origin := path.Join(l.in.Prefix, path.Dir(f.rel))
	for _, d := range f.runpath {
		d = strings.NewReplacer("${ORIGIN}", origin, "$ORIGIN", origin).Replace(d)
		if !strings.HasPrefix(d, "/") || strings.Contains(d, "$") {
			continue // relative to the cwd, or $LIB/$PLATFORM: not predictable
		}
		if p := path.Join(d, name); l.locate(p, f.machine) {
			return p, true
		}
	}
	for _, d := range []string{"lib", "lib/slurm", "lib64"} {
		if p := path.Join(l.in.Prefix, d, name); l.locate(p, f.machine) {
			return p, true
		}
	}
	for _, d := range l.in.LinkerDirs {
		if p := path.Join("/", d, name); l.locate(p, f.machine) {
			return p, true
		}
	}
	for _, d := range l.dirs(lc) {
		if p := path.Join(d, name); l.locate(p, f.machine) {
			return p, true
		}
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// listSome lists up to n names and counts the rest.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// neededBy says who needs something, commands and libraries by name and
// plugins counted: "bin/sinfo, lib/libslurmfull.so and 3 plugins".
func neededBy(by []string) string {
	var named, plugins []string
	for _, b := range by {
		if strings.HasPrefix(b, "lib/slurm/") {
			plugins = append(plugins, b)
		} else {
			named = append(named, b)
		}
	}
	var parts []string
	if len(named) > 0 {
		parts = append(parts, listSome(named, 3))
	}
	switch len(plugins) {
	case 0:
	case 1:
		parts = append(parts, "plugin "+path.Base(plugins[0]))
	default:
		parts = append(parts, fmt.Sprintf("%d plugins", len(plugins)))
	}
	return strings.Join(parts, " and ")
}

func describeMissing(ms []Missing) string {
	var s []string
	for _, m := range ms {
		s = append(s, fmt.Sprintf("%s (needed by %s)", m.Name, neededBy(m.NeededBy)))
	}
	return strings.Join(s, "; ")
}

// glibcOwn are libraries glibc itself provides: when the glibc loader is
// missing they are missing too, and one remedy covers them all.
var glibcOwn = map[string]bool{
	"libc.so.6": true, "libm.so.6": true, "libpthread.so.0": true, "libdl.so.2": true, "librt.so.1": true,
	"libresolv.so.2": true, "libutil.so.1": true, "libanl.so.1": true, "libcrypt.so.1": true,
	"ld-linux-x86-64.so.2": true, "ld-linux-aarch64.so.1": true,
}

// missingError builds the failure.Verify error for what is missing.
func missingError(in PreflightInput, ms []Missing, vs []MissingVersion) error {
	var loaders, libs, glibcLibs []Missing
	glibcLoaderMissing := false
	for _, m := range ms {
		if m.What == "loader" {
			loaders = append(loaders, m)
			if strings.Contains(path.Base(m.Name), "ld-linux") {
				glibcLoaderMissing = true
			}
			continue
		}
		if glibcLoaderMissing && glibcOwn[m.Name] {
			glibcLibs = append(glibcLibs, m)
			continue
		}
		libs = append(libs, m)
	}
	var parts []string
	if len(loaders) > 0 {
		p := "missing loader " + describeMissing(loaders)
		if len(glibcLibs) > 0 {
			var names []string
			for _, m := range glibcLibs {
				names = append(names, m.Name)
			}
			p += " and with it glibc's own " + strings.Join(names, ", ")
		}
		parts = append(parts, p)
	}
	if len(libs) > 0 {
		parts = append(parts, "missing "+describeMissing(libs))
	}
	for _, v := range vs {
		parts = append(parts, v.describe())
	}
	err := failure.New(failure.Verify, "the bundle cannot run in this root: %s", strings.Join(parts, "; "))
	h := hint(in, loaders, libs)
	vh, fix := versionHint(in, vs)
	if vh != "" {
		if h != "" {
			h += "; then "
		}
		h += vh
	}
	err.Fix = append(err.Fix, fix...)
	return err.WithHint("%s", h)
}

// Package names for well-known sonames, per distribution family.
var (
	debPkgs = map[string]string{
		"libmunge.so.2": "libmunge2", "liblz4.so.1": "liblz4-1", "libz.so.1": "zlib1g",
		"libjson-c.so.5": "libjson-c5", "libyaml-0.so.2": "libyaml-0-2", "libhttp_parser.so.2.9": "libhttp-parser2.9",
		"libjwt.so.0": "libjwt0", "libcurl.so.4": "libcurl4", "libreadline.so.8": "libreadline8",
		"libgcc_s.so.1": "libgcc-s1", "libstdc++.so.6": "libstdc++6", "libcrypto.so.3": "libssl3",
		"libssl.so.3": "libssl3", "libcrypto.so.1.1": "libssl1.1", "libssl.so.1.1": "libssl1.1",
		"liblua5.3.so.0": "liblua5.3-0", "libpmix.so.2": "libpmix2", "libhwloc.so.15": "libhwloc15",
		"libnuma.so.1": "libnuma1", "libdbus-1.so.3": "libdbus-1-3", "libmariadb.so.3": "libmariadb3",
		"librdkafka.so.1": "librdkafka1", "libibmad.so.5": "libibmad5", "libibumad.so.3": "libibumad3",
		"libfreeipmi.so.17": "libfreeipmi17", "libipmimonitoring.so.6": "libipmimonitoring6",
		"libhdf5_serial.so.103": "libhdf5-103-1", "librrd.so.8": "librrd8", "libtinfo.so.6": "libtinfo6",
		"libncurses.so.6": "libncurses6", "libpam.so.0": "libpam0g", "libpam_misc.so.0": "libpam0g",
		"libglib-2.0.so.0": "libglib2.0-0", "libgtk-x11-2.0.so.0": "libgtk2.0-0", "libcurl-gnutls.so.4": "libcurl3-gnutls",
		"libbpf.so.1": "libbpf1", "libdbus-glib-1.so.2": "libdbus-glib-1-2", "libgomp.so.1": "libgomp1",
	}
	rpmPkgs = map[string]string{
		"libmunge.so.2": "munge-libs", "liblz4.so.1": "lz4-libs", "libz.so.1": "zlib", "libjson-c.so.5": "json-c",
		"libyaml-0.so.2": "libyaml", "libhttp_parser.so.2.9": "http-parser", "libjwt.so.0": "libjwt",
		"libcurl.so.4": "libcurl", "libreadline.so.8": "readline", "libgcc_s.so.1": "libgcc",
		"libstdc++.so.6": "libstdc++", "libcrypto.so.3": "openssl-libs", "libssl.so.3": "openssl-libs",
		"libnuma.so.1": "numactl-libs", "libhwloc.so.15": "hwloc-libs", "libdbus-1.so.3": "dbus-libs",
		"libpam.so.0": "pam", "libtinfo.so.6": "ncurses-libs",
	}
	apkPkgs = map[string]string{
		"libz.so.1": "zlib", "liblz4.so.1": "lz4-libs", "libjson-c.so.5": "json-c", "libyaml-0.so.2": "yaml",
		"libcurl.so.4": "libcurl", "libreadline.so.8": "readline", "libgcc_s.so.1": "libgcc",
		"libstdc++.so.6": "libstdc++", "libcrypto.so.3": "libcrypto3", "libssl.so.3": "libssl3",
		"libmunge.so.2": "munge", "libjwt.so.0": "libjwt",
	}
)

// hint tells the operator what to do on the target's distribution.
func hint(in PreflightInput, loaders, libs []Missing) string {
	distro := rootfs.Distro(in.Root)
	musl := in.Libc == rootfs.Musl || distro == "alpine"
	var hints []string
	for _, m := range loaders {
		base := path.Base(m.Name)
		switch {
		case strings.HasPrefix(base, "ld-linux") && musl:
			if distro == "alpine" || distro == "" {
				hints = append(hints, "this bundle is built for glibc; on Alpine run `apk add gcompat libgcc libstdc++` or publish a self-contained bundle")
			} else {
				hints = append(hints, "this bundle is built for glibc and the target uses musl: install a glibc compatibility layer (gcompat) or publish a self-contained bundle")
			}
		case strings.HasPrefix(base, "ld-musl"):
			h := "this bundle is built for musl and the target uses " + string(in.Libc) + ": publish a glibc bundle for it or install musl's loader"
			if distro == "debian" {
				h += " (`apt-get install musl`)"
			}
			hints = append(hints, h)
		default:
			hints = append(hints, fmt.Sprintf("the target has no %s: install the C library the bundle was built for, or publish a self-contained bundle that carries its loader in %s/lib", m.Name, in.Prefix))
		}
	}
	if len(libs) > 0 {
		var pkgs map[string]string
		var tool string
		switch distro {
		case "debian":
			pkgs, tool = debPkgs, "apt-get install -y"
		case "rhel":
			pkgs, tool = rpmPkgs, "dnf install -y"
		case "alpine":
			pkgs, tool = apkPkgs, "apk add"
		}
		var install, unknown []string
		seen := map[string]bool{}
		for _, m := range libs {
			if p, ok := pkgs[m.Name]; ok {
				if !seen[p] {
					seen[p] = true
					install = append(install, p)
				}
			} else {
				unknown = append(unknown, m.Name)
			}
		}
		var h []string
		if len(install) > 0 {
			h = append(h, fmt.Sprintf("run `%s %s`", tool, strings.Join(install, " ")))
		}
		if len(unknown) > 0 {
			h = append(h, fmt.Sprintf("provide %s in the target's library path or in the bundle's lib/ (a self-contained bundle)", strings.Join(unknown, ", ")))
		}
		hints = append(hints, strings.Join(h, "; "))
	}
	return strings.Join(hints, "; then ")
}
