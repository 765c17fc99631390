// Package registrytest starts the real CNCF distribution registry
// (Debian's docker-registry package, /usr/bin/docker-registry) on a free
// loopback port with filesystem storage in a temp directory, optionally
// behind htpasswd auth. It is for tests and benchmarks only.
package registrytest

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// binary is where Debian's docker-registry package puts the server.
const binary = "/usr/bin/docker-registry"

// Registry is a running registry.
type Registry struct {
	Host string // 127.0.0.1:PORT
	Dir  string // storage root
	Log  string // server log file
	cmd  *exec.Cmd
}

// Ref is oci://HOST/repo.
func (r *Registry) Ref(repo string) string { return "oci://" + r.Host + "/" + repo }

// need fails t when the registry binary is missing and CI is set (CI runs
// the e2e setup, which installs it), and skips it otherwise.
func need(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(binary); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing: run scripts/deps.sh (apt-get install docker-registry)", binary)
		}
		t.Skipf("%s missing: apt-get install docker-registry (scripts/deps.sh)", binary)
	}
}

// Start runs a registry for the life of t. users, when not empty, turns on
// htpasswd auth with these user → password pairs.
func Start(t testing.TB, users map[string]string) *Registry {
	t.Helper()
	need(t)
	r, err := startDir(t.TempDir(), users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// startDir runs a registry keeping its state in dir; the caller stops it.
func startDir(dir string, users map[string]string) (*Registry, error) {
	host, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &Registry{Host: host, Dir: filepath.Join(dir, "storage"), Log: filepath.Join(dir, "registry.log")}
	authCfg := ""
	if len(users) > 0 {
		var lines []string
		for u, p := range users {
			h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
			if err != nil {
				return nil, err
			}
			lines = append(lines, u+":"+string(h))
		}
		hp := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(hp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		authCfg = fmt.Sprintf("auth:\n  htpasswd:\n    realm: slurm-installer-test\n    path: %s\n", hp)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
%s`, r.Dir, host, authCfg)
	cp := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cp, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(r.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r.cmd = exec.Command(binary, "serve", cp)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			r.Stop()
			b, _ := os.ReadFile(r.Log)
			return nil, fmt.Errorf("docker-registry did not come up on %s: %v\n%s", host, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the registry and waits for it.
func (r *Registry) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// DockerConfig writes DIR/config.json with a basic-auth entry for host and
// returns DIR (for DOCKER_CONFIG).
func DockerConfig(dir, host, user, pass string) (string, error) {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	data := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), []byte(data), 0o600)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
