package verify

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// versionNeeds is debug/elf's view of SHT_GNU_VERNEED, which readDynamic
// replaced (it loads the whole dynamic symbol table first): the reference
// TestReadDynamicMatchesDebugELF compares against.
func versionNeeds(f *elf.File) map[string][]string {
	needs, err := f.DynamicVersionNeeds()
	if err != nil || len(needs) == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, n := range needs {
		for _, d := range n.Needs {
			m[n.Name] = append(m[n.Name], d.Dep)
		}
	}
	return m
}

// hostELFs is every ELF shared object and executable in the host's library
// and command directories (hundreds of real, varied files on any Debian).
func hostELFs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"/usr/lib/x86_64-linux-gnu/*.so*", "/usr/lib/aarch64-linux-gnu/*.so*", "/usr/bin/*", "/usr/sbin/*", "/lib64/*"} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() {
				out = append(out, m)
			}
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d host files to compare with: this test needs a Debian-like host", len(out))
	}
	return out
}

// TestReadDynamicMatchesDebugELF: for every ELF file of the host, readDynamic
// gives what debug/elf's DynString and DynamicVersionNeeds give.
func TestReadDynamicMatchesDebugELF(t *testing.T) {
	n := 0
	for _, p := range hostELFs(t) {
		ef, err := elf.Open(p)
		if err != nil {
			continue // not ELF
		}
		got, err := readDynamic(ef)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		needed, _ := ef.DynString(elf.DT_NEEDED)
		runpath, _ := ef.DynString(elf.DT_RUNPATH)
		rpath, _ := ef.DynString(elf.DT_RPATH)
		want := dynamic{needed: needed, runpath: runpath, rpath: rpath, verneed: versionNeeds(ef)}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", p, got, want)
		}
		ef.Close()
		n++
	}
	if n < 50 {
		t.Fatalf("compared only %d ELF files", n)
	}
	t.Logf("%d ELF files compared", n)
}

// TestReadDynamicHostile: version-needs records and chains that point past
// the section (offsets only go forward: a chain cannot loop) or claim more
// entries than it holds, and names past the string table end in an error
// (no hang, no panic), and the file's libraries are still read.
func TestReadDynamicHostile(t *testing.T) {
	src := "/usr/bin/ls"
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	vs := ef.SectionByType(elf.SHT_GNU_VERNEED)
	if vs == nil {
		t.Fatalf("%s has no version needs section", src)
	}
	off := int(vs.Offset)
	le := ef.ByteOrder
	for _, tc := range []struct {
		name    string
		mutate  func(c []byte)
		wantErr bool // false: it reads on (garbage names: the versions are then missing), but returns
	}{
		{"aux count past the chain", func(c []byte) { putUint16(le, c, off+2, 0xffff); setAuxNext(le, c, off+16, 16) }, false},
		{"aux past the section", func(c []byte) { le.PutUint32(c[off+8:], 1<<30) }, true},
		{"file name past strtab", func(c []byte) { le.PutUint32(c[off+4:], 1<<30) }, true},
		{"record past the section", func(c []byte) { le.PutUint32(c[off+12:], 1<<30) }, true},
		{"record offset wraps", func(c []byte) { le.PutUint32(c[off+12:], 0xffffffff) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := append([]byte(nil), b...)
			tc.mutate(c)
			ef, err := elf.NewFile(bytes.NewReader(c))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var d dynamic
			go func() { defer close(done); d, err = readDynamic(ef) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("readDynamic did not return")
			}
			if len(d.needed) == 0 {
				t.Errorf("the libraries should still be read: %+v", d)
			}
			if tc.wantErr && (err == nil || d.verneed != nil) {
				t.Errorf("want an error and no version needs, got %v, %+v", err, d)
			}
		})
	}
}

// setAuxNext sets vna_next of the Elf_Vernaux at off.
func setAuxNext(bo interface{ PutUint32([]byte, uint32) }, c []byte, off int, next uint32) {
	bo.PutUint32(c[off+12:], next)
}

func putUint16(bo interface{ PutUint16([]byte, uint16) }, c []byte, off int, v uint16) {
	bo.PutUint16(c[off:], v)
}
