package fetch

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"slurm-installer/internal/failure"
)

// Registry mirrors in the plan and the racer; the real registry is in the
// oci package's and e2e's tests.
func TestOCIMirrorPlan(t *testing.T) {
	m, err := planMirror("oci://127.0.0.1:5000/hpc/slurm", "22.05.8", "x86_64")
	if err != nil || len(m.steps) != 1 || m.steps[0].kind != stepOCI {
		t.Fatalf("plan: %+v, %v", m, err)
	}
	for _, bad := range []string{"oci://me:pw123@127.0.0.1/x", "oci://127.0.0.1", "oci://host/repo:tag"} {
		_, err := planMirror(bad, "22.05.8", "x86_64")
		if failure.ClassOf(err) != failure.Usage || strings.Contains(err.Error(), "pw123") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestOCIMirrorDeadAndSigned(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "oci://" + l.Addr().String() + "/hpc/slurm"
	l.Close()
	o := opts(t, dead)
	start := time.Now()
	_, err = Fetch(context.Background(), o)
	if failure.ClassOf(err) != failure.Download || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("dead registry: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("dead registry took %s", d)
	}
	o = opts(t, dead)
	o.RequireSignedIndex, o.IndexVerifier = true, func(_, _ []byte) error { return nil }
	_, err = Fetch(context.Background(), o)
	if failure.ClassOf(err) != failure.Integrity || !slices.Contains(failure.Steps(err), failure.PinLayerDigest) {
		t.Fatalf("pinned key, no pinned digest: %v (hint %q, remedies %v)", err, failure.HintOf(err), failure.Steps(err))
	}
}
