package main

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// layerTable is the allowed-imports table of docs/DESIGN.md §7 ("Layers").
type layerTable struct {
	layer   map[string]string          // package (module-relative, "." for main) → layer
	allowed map[string]map[string]bool // package → packages it may import; nil = any production package
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readLayerTable parses the table whose header is "| package | layer | may import".
func readLayerTable(t *testing.T) layerTable {
	t.Helper()
	f, err := os.Open(filepath.Join("docs", "DESIGN.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct {
		pkgs        []string
		layer, uses string
	}
	var rows []row
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "| package | layer | may import") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		if strings.HasPrefix(line, "|---") {
			continue
		}
		cols := strings.Split(strings.Trim(line, "|"), "|")
		if len(cols) != 3 {
			t.Fatalf("DESIGN.md layer table: row %q has %d columns, want 3", line, len(cols))
		}
		var pkgs []string
		for _, m := range backticked.FindAllStringSubmatch(cols[0], -1) {
			pkgs = append(pkgs, m[1])
		}
		rows = append(rows, row{pkgs, strings.TrimSpace(cols[1]), strings.TrimSpace(cols[2])})
	}
	if len(rows) == 0 {
		t.Fatal("DESIGN.md has no layer table (header `| package | layer | may import (of this project) |`)")
	}
	lt := layerTable{layer: map[string]string{}, allowed: map[string]map[string]bool{}}
	var ground []string
	for _, r := range rows {
		for _, p := range r.pkgs {
			lt.layer[p] = r.layer
			if r.layer == "ground" {
				ground = append(ground, p)
			}
		}
	}
	for _, r := range rows {
		var set map[string]bool
		if !strings.Contains(r.uses, "any production package") {
			set = map[string]bool{}
			for _, m := range backticked.FindAllStringSubmatch(r.uses, -1) {
				set[m[1]] = true
			}
			if regexp.MustCompile(`\bground\b`).MatchString(r.uses) {
				for _, g := range ground {
					set[g] = true
				}
			}
		}
		for _, p := range r.pkgs {
			lt.allowed[p] = set
		}
	}
	return lt
}

// projectImports lists, per package directory, the project packages its non-test files import.
func projectImports(t *testing.T) map[string][]string {
	t.Helper()
	const module = "slurm-installer"
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "build", "bin", "testdata", "tools", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if _, ok := out[dir]; !ok {
			out[dir] = nil
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if p == module || strings.HasPrefix(p, module+"/") {
				rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
				if rel == "" {
					rel = "."
				}
				out[dir] = append(out[dir], rel+"\x00"+path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLayers holds the code to the allowed-imports table of docs/DESIGN.md §7: imports point
// down, production code never imports a test helper, and every package is in the table.
func TestLayers(t *testing.T) {
	lt := readLayerTable(t)
	imports := projectImports(t)
	var dirs []string
	for d := range imports {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		layer, ok := lt.layer[dir]
		if !ok {
			t.Errorf("package %s is not in DESIGN.md §7's layer table: add a row saying its layer and what it may import", dir)
			continue
		}
		allowed := lt.allowed[dir]
		for _, e := range imports[dir] {
			dep, file, _ := strings.Cut(e, "\x00")
			if _, known := lt.layer[dep]; !known {
				t.Errorf("%s imports %s, which is not in DESIGN.md §7's layer table", file, dep)
				continue
			}
			if strings.HasPrefix(lt.layer[dep], "test helper") {
				t.Errorf("%s (a production file) imports the test helper %s", file, dep)
				continue
			}
			if allowed == nil { // any production package
				continue
			}
			if !allowed[dep] {
				t.Errorf("%s: package %s (%s) may not import %s (%s) per DESIGN.md §7's layer table", file, dir, layer, dep, lt.layer[dep])
			}
		}
	}
}

// TestLayersCatchesAnUpwardImport proves the check can fail: an upward edge the table forbids.
func TestLayersCatchesAnUpwardImport(t *testing.T) {
	lt := readLayerTable(t)
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"install", "internal/app", false},
		{"fetch", "install", false},
		{"internal/failure", "internal/platform", false},
		{"fetch", "oci", true},
		{"pack", "verify", true},
		{"internal/app", "pack", true},
	} {
		allowed := lt.allowed[c.from]
		got := allowed == nil || allowed[c.to]
		if got != c.ok {
			t.Errorf("table allows %s → %s: %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
