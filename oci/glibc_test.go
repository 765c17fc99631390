package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewerGlibc(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"GLIBC_2.34", "", true}, {"GLIBC_2.34", "GLIBC_2.4", true}, {"GLIBC_2.4", "GLIBC_2.34", false},
		{"GLIBC_2.2.5", "GLIBC_2.2", true}, {"GLIBC_PRIVATE", "", false}, {"GLIBC_2.17", "GLIBC_2.17", false}} {
		if got := newerGlibc(c.a, c.b); got != c.want {
			t.Errorf("newerGlibc(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// The host's own binaries: /bin/true is dynamically linked against glibc on
// Debian; a directory of text has no need.
func TestGlibcNeed(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := GlibcNeed(dir); got != "" {
		t.Fatalf("text only: %q", got)
	}
	b, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true")
	}
	if err := os.WriteFile(filepath.Join(dir, "true"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/lib64/ld-linux-x86-64.so.2"); err == nil {
		if got := GlibcNeed(dir); glibcNum(got) == nil {
			t.Fatalf("glibc binary: %q", got)
		}
	}
}

func TestParseRef(t *testing.T) {
	for raw, want := range map[string]Ref{
		"oci://127.0.0.1:5000/hpc/slurm": {Host: "127.0.0.1:5000", Repo: "hpc/slurm", PlainHTTP: true},
		"oci://localhost/slurm/":         {Host: "localhost", Repo: "slurm", PlainHTTP: true},
		"oci://[::1]:5000/slurm":         {Host: "[::1]:5000", Repo: "slurm", PlainHTTP: true},
		"OCI://registry.example/a/b":     {Host: "registry.example", Repo: "a/b"},
		"oci://127.1.2.3/x":              {Host: "127.1.2.3", Repo: "x", PlainHTTP: true},
	} {
		got, err := ParseRef(raw)
		if err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"oci://u:secretpw@host/repo", "oci://host", "oci://host/", "oci://host/repo:tag",
		"oci://host/repo@sha256:00", "https://host/repo", "oci://host/Repo", "oci://host/repo?x=1"} {
		_, err := ParseRef(raw)
		if err == nil {
			t.Errorf("ParseRef(%q): no error", raw)
		} else if contains(err.Error(), "secretpw") {
			t.Errorf("ParseRef(%q): error shows the password: %v", raw, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
