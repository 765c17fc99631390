package oci

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Credentials come from REGISTRY_AUTH_FILE first, then $DOCKER_CONFIG
// (auths: basic "auth" and "identitytoken"); a broken file is an error that
// does not quote it.
func TestCredentialStore(t *testing.T) {
	dc := t.TempDir()
	basic := base64.StdEncoding.EncodeToString([]byte("alice:pw-alice"))
	cfg := `{"auths":{"reg.example:5000":{"auth":"` + basic + `"},"tok.example":{"auth":"` +
		base64.StdEncoding.EncodeToString([]byte("<token>:")) + `","identitytoken":"refresh-123"}}}`
	if err := os.WriteFile(filepath.Join(dc, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	af := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(af, []byte(`{"auths":{"reg.example:5000":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("bob:pw-bob"))+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", dc)
	t.Setenv(RegistryAuthFileEnv, "")
	ctx := context.Background()
	s, err := credentialStore()
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get(ctx, "reg.example:5000"); c.Username != "alice" || c.Password != "pw-alice" {
		t.Fatalf("basic from DOCKER_CONFIG: %+v", c)
	}
	if c, _ := s.Get(ctx, "tok.example"); c.RefreshToken != "refresh-123" {
		t.Fatalf("identitytoken: %+v", c)
	}
	if c, _ := s.Get(ctx, "other.example"); c.Username != "" || c.RefreshToken != "" {
		t.Fatalf("unknown host: %+v", c)
	}
	t.Setenv(RegistryAuthFileEnv, af)
	if s, err = credentialStore(); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get(ctx, "reg.example:5000"); c.Username != "bob" {
		t.Fatalf("REGISTRY_AUTH_FILE first: %+v", c)
	}
	if c, _ := s.Get(ctx, "tok.example"); c.RefreshToken != "refresh-123" {
		t.Fatalf("falls back to DOCKER_CONFIG: %+v", c)
	}
	// A broken config: an error, without the file's bytes.
	if err := os.WriteFile(af, []byte(`{"auths":{"x":{"auth":"c2VjcmV0LXN0dWZm!!"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = credentialStore()
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("broken file: %v", err)
	}
}
