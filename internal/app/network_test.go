package app

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
)

// TestLoadCAPool: --ca-cert is read once, here, as a bounded regular file;
// what is wrong with it is a usage error naming the flag.
func TestLoadCAPool(t *testing.T) {
	if p, err := loadCAPool(""); p != nil || err != nil {
		t.Fatalf("no --ca-cert: %v, %v; want the system's pool (nil)", p, err)
	}
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := loadCAPool(good); p == nil || err != nil {
		t.Fatalf("a PEM certificate: %v, %v", p, err)
	}
	notPEM := filepath.Join(dir, "ca.der")
	if err := os.WriteFile(notPEM, srv.Certificate().Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{"missing": filepath.Join(dir, "none.pem"), "not PEM": notPEM, "directory": dir, "device": "/dev/zero"} {
		_, err := loadCAPool(p)
		if failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "--ca-cert") {
			t.Errorf("%s: %v (class %s), want a usage error naming --ca-cert", name, err, failure.ClassOf(err))
		}
	}
}
