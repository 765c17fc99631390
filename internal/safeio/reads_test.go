package safeio

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// readsAllowed lists every file read in the installer's non-test code that
// does not go through this package, each with why it needs no safe reader
// (issue 23: one safe reader for every file read from a root or named by a
// flag or variable). A new read fails TestEveryReadIsListed until it goes
// through safeio or is listed here with its reason.
var readsAllowed = map[string]string{
	"fetch/sniff.go archiveVersion os.Open":                              "the run's own download in its temp dir, hashed before it is used",
	"fetch/sniff.go archiveVersion io.ReadAll":                           "a VERSION entry of that download, through a LimitReader",
	"fetch/sniff.go sniff os.Open":                                       "the run's own download in its temp dir",
	"fetch/transport.go readSmall io.ReadAll":                            "an HTTP body, through a LimitReader",
	"fetch/tree.go fetchTree root.ReadFile":                              "VERSION of a tree the run downloaded into its temp dir",
	"install/extract.go ExtractArchive os.Open":                          "the verified bundle the run downloaded (or safeio opened for --from)",
	"install/extract.go extractTree os.Open":                             "a file of a tree the run downloaded and hashed",
	"install/space.go unpackedSize os.Open":                              "the verified bundle, to measure it",
	"install/format.go walkZip io.ReadAll":                               "a zip symlink member's target, through a LimitReader (maxZipLink)",
	"internal/run/cache.go put os.Open":                                  "the run's own verified download, copied into the cache",
	"internal/app/network.go copyFile os.Open":                           "the run's own verified download, copied beside the cache",
	"internal/sandbox/child.go child os.ReadFile":                        "/proc/sys/kernel/cap_last_cap of the running kernel (procfs)",
	"internal/safeio/safeio.go Open os.OpenFile":                         "the safe reader itself",
	"internal/safeio/safeio.go readAll io.ReadAll":                       "the safe reader itself (a LimitReader)",
	"internal/app/verify_cmd.go checkPluginDir fsys.ReadFile":            "rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"rootfs/detect.go Distro r.ReadFile":                                 "rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"rootfs/detect.go ldSoConfDirs r.ReadFile":                           "rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"rootfs/detect.go muslPath r.ReadFile":                               "rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"verify/run.go checkSiteConf .ReadFile":                              "rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"verify/run.go controller .ReadFile":                                 "rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"verify/preflight.go readELF os.Open":                                "an ELF of the staged payload (extraction admits regular files only)",
	"oci/push.go Push os.Open":                                           "the tarball pack just wrote",
	"pack/pack.go Pack os.ReadFile":                                      "publisher side: the publisher's own build tree",
	"pack/pack.go tarball os.ReadFile":                                   "publisher side: the publisher's own build tree",
	"pack/pack.go updateIndex os.ReadFile":                               "publisher side: the publisher's own output directory",
	"pack/pack.go version os.ReadFile":                                   "publisher side: the publisher's own build tree",
	"pack/selfcontained.go copyFile os.Open":                             "publisher side: the publisher's sysroot",
	"pack/selfcontained.go copyFile os.OpenFile":                         "publisher side: its own output",
	"install/commit.go copyInRoot root.Open":                             "a file of the staged payload (extraction admits regular files only)",
	"install/commit.go copyInRoot root.OpenFile":                         "a write (O_EXCL)",
	"install/installer.go writeFileAtomic root.OpenFile":                 "a write (O_EXCL temp file)",
	"install/receipt.go Lock root.OpenFile":                              "the lock: O_NOFOLLOW|O_NONBLOCK, checked regular, one link, the file Lstat saw",
	"install/repair.go restoreEntry root.Open":                           "a file of the staged payload (extraction admits regular files only)",
	"install/repair.go restoreEntry root.OpenFile":                       "a write (O_EXCL temp file)",
	"install/stage.go listDir root.OpenFile":                             "a directory listing: O_DIRECTORY|O_NONBLOCK",
	"fetch/localfs.go listFile root.OpenFile":                            "a file:// mirror's directory listing: O_DIRECTORY|O_NONBLOCK",
	"fetch/tree.go downloadTreeFile root.OpenFile":                       "a write into the run's temp dir",
	"internal/safeio/safeio.go OpenIn root.OpenFile":                     "the safe reader itself",
	"internal/safeio/safeio.go OpenInNoFollow root.OpenFile":             "the safe reader itself",
	"internal/testkit/registrytest/registrytest.go startDir os.ReadFile": "test helper",
	"internal/testkit/testbundle/testbundle.go Write os.ReadFile":        "test helper",
	"internal/testkit/testfs/testfs.go Tree os.Open":                     "test helper",
	"internal/testkit/rootfstest/rootfstest.go Copy os.Open":             "test helper",
	"internal/testkit/rootfstest/rootfstest.go Copy os.OpenFile":         "test helper",
	"connect/connect.go compiledPluginDir os.Open":                       "the installed payload's libslurmfull.so (extraction admits regular files only), through a LimitReader",
	"connect/connect.go compiledPluginDir io.ReadAll":                    "that library, through a LimitReader",
	"connect/connect.go pluginDir .ReadFile":                             "rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"connect/record.go writeAtomic root.OpenFile":                        "a write (O_EXCL temp file)",
	"internal/app/connect.go fetchConf io.ReadAll":                       "an HTTP body (--conf-url), through a LimitReader",
	"internal/sandbox/child.go helperFiles io.ReadAll":                   "the spec on the helper's inherited pipe, through a LimitReader",
	"internal/sandbox/child.go mounts os.Open":                           "/proc/self/mountinfo of the helper (procfs)",
	"internal/sandbox/child.go mounts io.ReadAll":                        "that procfs file, through a LimitReader",
	"oci/sbom.go ReferredSBOM io.ReadAll":                                "a registry blob, through a LimitReader",
	"pack/fromroot.go files .ReadFile":                                   "publisher side, rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"pack/fromroot.go owners r.ReadFile":                                 "publisher side, rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"pack/fromroot.go readDpkg r.ReadFile":                               "publisher side, rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"pack/fromroot.go readOSRelease r.ReadFile":                          "publisher side, rootfs.FS.ReadFile: safeio.ReadFile on the resolved path",
	"pack/republish.go lookPublished os.Open":                            "publisher side: the publisher's own output directory (checked regular after the open)",
	"pack/republish.go lookPublished os.ReadFile":                        "publisher side: the publisher's own output directory",
}

// TestEveryReadIsListed walks the installer's non-test Go files and lists
// every file read (os.ReadFile, os.Open, os.OpenFile, io.ReadAll, any
// ReadFile method, Open/OpenFile on an os.Root named root): each must be
// in readsAllowed, and each entry there must still exist.
func TestEveryReadIsListed(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var bad []string
	err = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != repo && (d.Name() == "build" || d.Name() == "tools" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(repo, p)
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				s, ok := c.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x := ""
				switch e := s.X.(type) {
				case *ast.Ident:
					x = e.Name
				case *ast.SelectorExpr:
					if e.Sel.Name == "root" {
						x = "root"
					}
				}
				name := s.Sel.Name
				read := false
				switch {
				case x == "os":
					read = name == "ReadFile" || name == "Open" || name == "OpenFile"
				case x == "io":
					read = name == "ReadAll"
				case x == "root":
					read = name == "ReadFile" || name == "Open" || name == "OpenFile"
				default:
					read = name == "ReadFile"
				}
				if !read || x == "safeio" {
					return true
				}
				key := fmt.Sprintf("%s %s %s.%s", filepath.ToSlash(rel), fn.Name.Name, x, name)
				seen[key] = true
				if _, ok := readsAllowed[key]; !ok {
					bad = append(bad, key)
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("a file read that bypasses the safe reader: %s (use safeio, or list it in readsAllowed with why)", b)
	}
	for k := range readsAllowed {
		if !seen[k] {
			t.Errorf("readsAllowed lists %q, which no longer exists: drop it", k)
		}
	}
}
