//go:build e2e

package oci_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"slurm-installer/internal/testkit/registrytest"
	"slurm-installer/oci"
)

// TestListAndResolve (issue 26): List names every tag and the bundle each
// holds; Resolve picks what Fetch would pick, with the newer bundles Accept
// refused, and downloads no layer (the registry's log shows no blob GET of
// a layer).
func TestListAndResolve(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("hpc/slurm-client")
	log := zerolog.Nop()
	b8 := pushNeeding(t, ref, "22.05.8", "GLIBC_2.34", true, log)
	b11 := pushNeeding(t, ref, "22.05.11", "GLIBC_2.39", true, log)

	pushed, err := os.ReadFile(reg.Log) // the push's own requests name the layers too
	if err != nil {
		t.Fatal(err)
	}
	tags, err := oci.List(context.Background(), ref, oci.ClientOptions{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byTag := map[string]oci.TagInfo{}
	for _, ti := range tags {
		names = append(names, ti.Tag)
		byTag[ti.Tag] = ti
	}
	if got := strings.Join(names, ","); got != "22.05.11-x86_64,22.05.8-x86_64,latest-x86_64" {
		t.Fatalf("tags = %s", got)
	}
	if ti := byTag["22.05.8-x86_64"]; ti.Config == nil || ti.Config.GlibcNeed != "GLIBC_2.34" || ti.SHA256 != b8.sha || ti.Size != b8.size || ti.Compression != "gzip" {
		t.Fatalf("22.05.8: %+v", ti)
	}
	if ti := byTag["latest-x86_64"]; ti.SHA256 != b11.sha {
		t.Fatalf("latest: %+v, want the 22.05.11 layer", ti)
	}

	// A root with glibc 2.36: 22.05.11 needs 2.39 and is passed over.
	accept := func(c oci.Config) string {
		if c.GlibcNeed == "GLIBC_2.39" {
			return "needs glibc 2.39, the root has 2.36"
		}
		return ""
	}
	res, err := oci.Resolve(context.Background(), oci.Options{Ref: ref, Version: "22.05", Arch: "x86_64", Accept: accept})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != "22.05.8" || res.SHA256 != b8.sha || len(res.Skipped) != 1 || !strings.HasPrefix(res.Skipped[0], "22.05.11: needs glibc 2.39") {
		t.Fatalf("resolved %+v", res)
	}
	logged, err := os.ReadFile(reg.Log)
	if err != nil {
		t.Fatal(err)
	}
	logged = logged[len(pushed):]
	if !strings.Contains(string(logged), "/manifests/") {
		t.Fatalf("the registry log shows no request at all; cannot tell whether a layer was read:\n%s", logged)
	}
	for _, b := range []bundle{b8, b11} {
		if strings.Contains(string(logged), "blobs/sha256:"+b.sha) {
			t.Errorf("List or Resolve read the layer %s", b.sha)
		}
	}
	// The pinned digest must be the layer's.
	if _, err := oci.Resolve(context.Background(), oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", SHA256: b11.sha}); err == nil {
		t.Fatal("a pinned digest of another layer was accepted")
	}
}
