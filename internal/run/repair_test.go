package run

import (
	"slices"
	"strings"
	"testing"

	"slurm-installer/install"
)

func TestReceiptSources(t *testing.T) {
	for _, tc := range []struct {
		name string
		rc   install.Receipt
		want []string
	}{
		{"tarball", install.Receipt{Source: "http://a/pkgs/slurm-apk/x.tar.gz", Mirror: "http://a/", Layout: "tarball"},
			[]string{"http://a/pkgs/slurm-apk/x.tar.gz", "http://a/"}},
		{"direct", install.Receipt{Source: "http://a/x.tgz", Mirror: "http://a/x.tgz", Layout: "direct"},
			[]string{"http://a/x.tgz"}},
		{"tree", install.Receipt{Source: "http://a/pkgs/slurm-binaries/x86_64/", Mirror: "http://a/", Layout: "tree"},
			[]string{"http://a/"}},
		{"cache", install.Receipt{Source: "file:///var/cache/s/abc-x.tar.gz", Mirror: "--cache-dir", Layout: "cache"},
			[]string{"file:///var/cache/s/abc-x.tar.gz"}},
		{"redacted", install.Receipt{Source: "http://u:xxxxx@a/x.tar.gz", Mirror: "http://u:xxxxx@a/", Layout: "tarball"}, nil},
		{"user only", install.Receipt{Source: "http://u@a/x.tar.gz", Mirror: "http://u@a/", Layout: "tarball"},
			[]string{"http://u@a/x.tar.gz", "http://u@a/"}},
		{"oci", install.Receipt{Source: "oci://127.0.0.1:5000/hpc/slurm:22.05.8-x86_64@sha256:" + strings.Repeat("a", 64),
			Mirror: "oci://127.0.0.1:5000/hpc/slurm", Layout: "oci"}, []string{"oci://127.0.0.1:5000/hpc/slurm"}},
		{"none", install.Receipt{}, nil},
	} {
		if got := receiptSources(&tc.rc, "/"); !slices.Equal(got, tc.want) {
			t.Errorf("%s: receiptSources = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Issue 23 defect 7: a receipt (untrusted: it is in the root) whose source
// is a file:// path outside the root is never followed by a repair.
func TestReceiptSourcesStayInRoot(t *testing.T) {
	rc := install.Receipt{Source: "file:///etc/shadow.tar.gz", Mirror: "file:///etc/", Layout: "tarball"}
	if got := receiptSources(&rc, "/build/root"); len(got) != 0 {
		t.Errorf("followed a host file outside the root: %q", got)
	}
	rc = install.Receipt{Source: "file:///build/root/../shadow.tar.gz", Layout: "direct"}
	if got := receiptSources(&rc, "/build/root"); len(got) != 0 {
		t.Errorf("followed .. out of the root: %q", got)
	}
	rc = install.Receipt{Source: "file:///build/root/var/cache/x.tar.gz", Layout: "direct"}
	if got := receiptSources(&rc, "/build/root"); len(got) != 1 {
		t.Errorf("a source inside the root was dropped: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:s3cret@a/x": "http://u:xxxxx@a/x",
		"http://a/x":          "http://a/x",
		"--cache-dir":         "--cache-dir",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
