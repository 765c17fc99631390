package oci

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"slurm-installer/internal/failure"
)

// Credentials come from the auth file the caller names (the CLI's
// REGISTRY_AUTH_FILE) first, then $DOCKER_CONFIG (auths: basic "auth" and
// "identitytoken"); a broken file is an error that does not quote it.
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
	t.Setenv("REGISTRY_AUTH_FILE", af) // the package reads no variable of the installer's
	ctx := context.Background()
	s, err := credentialStore("")
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
	if s, err = credentialStore(af); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get(ctx, "reg.example:5000"); c.Username != "bob" {
		t.Fatalf("the auth file first: %+v", c)
	}
	if c, _ := s.Get(ctx, "tok.example"); c.RefreshToken != "refresh-123" {
		t.Fatalf("falls back to DOCKER_CONFIG: %+v", c)
	}
	// A broken config: an error, without the file's bytes.
	if err := os.WriteFile(af, []byte(`{"auths":{"x":{"auth":"c2VjcmV0LXN0dWZm!!"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = credentialStore(af)
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("broken file: %v", err)
	}
	// ... and, opening a repository, a usage error suggesting a login (the
	// app words it), still without the bytes.
	_, _, err = repository(Ref{Host: "reg.example:5000", Repo: "r"}, ClientOptions{AuthFile: af})
	if failure.ClassOf(err) != failure.Usage || !slices.Contains(failure.Steps(err), failure.RegistryLogin) ||
		strings.Contains(err.Error()+failure.HintOf(err), "c2VjcmV0") {
		t.Fatalf("broken file, repository: %v (remedies %v)", err, failure.Steps(err))
	}
}

// The registry's refusals and an untrusted certificate suggest remedies the
// app words (a login, --ca-cert); a reference with credentials in it too.
// No message of this package names a flag or the installer's variables.
func TestErrorRemedies(t *testing.T) {
	r := Ref{Host: "reg.example", Repo: "hpc/slurm"}
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		err := statusErr(r, "resolve tag 22.05.8-x86_64", code, nil, nil)
		if !errors.Is(err, ErrUnauthorized) || !slices.Contains(failure.Steps(err), failure.RegistryLogin) {
			t.Errorf("%d: %v (remedies %v), want RegistryLogin", code, err, failure.Steps(err))
		}
	}
	err := classify(context.Background(), r, "resolve", &url.Error{Op: "Get", URL: "https://reg.example/v2/", Err: x509.UnknownAuthorityError{}})
	if KindOf(err) != KindFatal || !slices.Contains(failure.Steps(err), failure.GiveCACert) {
		t.Errorf("untrusted certificate: %v (remedies %v), want GiveCACert", err, failure.Steps(err))
	}
	_, err = ParseRef("oci://u:pw-xyz@reg.example/hpc/slurm")
	if failure.ClassOf(err) != failure.Usage || !slices.Contains(failure.Steps(err), failure.RegistryLogin) ||
		strings.Contains(err.Error(), "pw-xyz") || strings.Contains(err.Error(), "REGISTRY_AUTH_FILE") {
		t.Errorf("credentials in the reference: %v (remedies %v)", err, failure.Steps(err))
	}
	_, err = ParseRef("oci://reg.example/hpc/slurm:22.05.8")
	if failure.ClassOf(err) != failure.Usage || strings.Contains(err.Error(), "--") {
		t.Errorf("a tag in the reference: %v", err)
	}
}

// Issue 23's rule for every file read, for the credentials files oras-go
// reads itself without bounds: a Docker config.json (or an auth file) that
// is a FIFO, a link to /dev/zero or too large is an error at once, before
// oras-go opens it; a missing one is no credentials. (A FIFO config.json
// hung the run until --deadline; /dev/zero was read without end.)
func TestCredentialFilesReadSafely(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	mk := func(t *testing.T, how string) string {
		dir := t.TempDir()
		p := filepath.Join(dir, "config.json")
		switch how {
		case "fifo":
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		case "dev-zero":
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
		case "huge":
			if err := os.WriteFile(p, append([]byte(`{"auths":{}, "pad":"`), bytes.Repeat([]byte("x"), maxCredentialFile)...), 0o600); err != nil {
				t.Fatal(err)
			}
		case "missing":
		}
		return dir
	}
	for _, how := range []string{"fifo", "dev-zero", "huge", "missing"} {
		for _, via := range []string{"DOCKER_CONFIG", "auth file"} {
			t.Run(how+"/"+via, func(t *testing.T) {
				dir := mk(t, how)
				auth := ""
				if via == "DOCKER_CONFIG" {
					t.Setenv("DOCKER_CONFIG", dir)
				} else {
					t.Setenv("DOCKER_CONFIG", t.TempDir())
					auth = filepath.Join(dir, "config.json")
				}
				done := make(chan error, 1)
				go func() { _, err := credentialStore(auth); done <- err }()
				select {
				case err := <-done:
					if how == "missing" {
						if err != nil {
							t.Errorf("no config.json: %v, want no credentials and no error", err)
						}
						return
					}
					if err == nil {
						t.Errorf("a %s credentials file was accepted", how)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("reading a %s credentials file hangs", how)
				}
			})
		}
	}
}
