// Command exportaudit lists the exported package-level identifiers of the
// slurm-installer module that no other package names (issue 15: an exported
// name is a promise to other packages; one only its own package uses should
// be unexported). A package's external tests (package x_test) count as other
// packages, since they cannot see unexported names.
//
//	cd tools && go run ./exportaudit ..
package main

import (
	"fmt"
	"go/types"
	"os"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

func main() {
	dir := ".."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	cfg := &packages.Config{Dir: dir, Tests: true, BuildFlags: []string{"-tags=torture,e2e,docker"},
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedSyntax | packages.NeedFiles}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	used := map[types.Object]bool{} // named from another package
	defs := map[types.Object]string{}
	for _, p := range pkgs {
		if p.TypesInfo == nil {
			continue
		}
		self := strings.TrimSuffix(p.PkgPath, "_test")
		for id, obj := range p.TypesInfo.Uses {
			_ = id
			if obj.Pkg() == nil || !obj.Exported() {
				continue
			}
			if obj.Pkg().Path() != p.PkgPath || p.PkgPath != self {
				used[key(obj)] = true
			}
		}
		if p.Name == "main" || strings.HasSuffix(p.PkgPath, "_test") || strings.HasSuffix(p.ID, ".test") {
			continue
		}
		sc := p.Types.Scope()
		for _, n := range sc.Names() {
			o := sc.Lookup(n)
			if o.Exported() && !isTestFile(p, o) {
				defs[key(o)] = p.PkgPath
			}
		}
	}
	var out []string
	for o, pkg := range defs {
		if !used[o] {
			out = append(out, fmt.Sprintf("%s.%s", pkg, o.Name()))
		}
	}
	sort.Strings(out)
	out = uniq(out)
	for _, s := range out {
		fmt.Println(s)
	}
	fmt.Fprintf(os.Stderr, "%d exported identifiers named by no other package\n", len(out))
}

// key identifies an object across the test and non-test variants of a
// package (each is type-checked on its own).
type objKey struct{ pkg, name string }

var keys = map[objKey]types.Object{}

func key(o types.Object) types.Object {
	k := objKey{strings.TrimSuffix(o.Pkg().Path(), "_test"), o.Name()}
	if o.Parent() != o.Pkg().Scope() {
		return o
	}
	if prev, ok := keys[k]; ok {
		return prev
	}
	keys[k] = o
	return o
}

func isTestFile(p *packages.Package, o types.Object) bool {
	f := p.Fset.Position(o.Pos()).Filename
	return strings.HasSuffix(f, "_test.go")
}

func uniq(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
