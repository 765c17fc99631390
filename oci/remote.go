package oci

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/httpx"
	"slurm-installer/internal/safeio"
)

// scheme is the URL scheme of registry mirrors.
const scheme = "oci"

// Media types of the artifact.
const (
	ArtifactType   = "application/vnd.slurm-installer.bundle.v1"
	LayerMediaType = "application/vnd.slurm-installer.bundle.v1.tar+gzip"
	// ZstdLayerMediaType is a bundle packed with zstd (.tar.zst): OCI's
	// own zstd layer type. Installers before it read only LayerMediaType.
	ZstdLayerMediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
	ConfigMediaType    = "application/vnd.slurm-installer.bundle.config.v1+json"
)

// Ref is a parsed oci://HOST/REPO mirror.
type Ref struct {
	Host      string // host[:port]
	Repo      string // repository path
	PlainHTTP bool   // loopback host: http://, as Docker does
}

// String is the mirror as given, oci://HOST/REPO.
func (r Ref) String() string { return scheme + "://" + r.Host + "/" + r.Repo }

// IsRef reports whether raw is an oci:// reference (whatever its validity).
func IsRef(raw string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(raw)), scheme+"://")
}

const refHint = "a registry mirror is oci://HOST[:PORT]/REPO, e.g. oci://registry.example:5000/hpc/slurm-client; credentials come from the Docker config (docker login), never from the URL"

// ParseRef parses oci://HOST[:PORT]/REPO. Anything else, a reference with
// user info, a tag or digest, a query or fragment, is a usage error.
func ParseRef(raw string) (Ref, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return Ref{}, failure.New(failure.Usage, "bad registry mirror %q: %w", redactRaw(raw), err).WithHint("%s", refHint)
	}
	bad := func(why string) (Ref, error) {
		return Ref{}, failure.New(failure.Usage, "bad registry mirror %q: %s", u.Redacted(), why).WithHint("%s", refHint)
	}
	switch {
	case !strings.EqualFold(u.Scheme, scheme):
		return bad("not an oci:// URL")
	case u.User != nil:
		return Ref{}, failure.New(failure.Usage, "bad registry mirror %q: credentials in the URL are not accepted (they would end up in logs and process lists)", u.Redacted()).
			Suggest(failure.RegistryLogin)
	case u.Host == "":
		return bad("no host")
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return bad("no query or fragment allowed")
	}
	repo := strings.Trim(u.Path, "/")
	if repo == "" {
		return bad("no repository (oci://HOST/REPO)")
	}
	if strings.ContainsAny(repo, "@:") {
		return bad("give the repository only: the tag is chosen from the version and arch asked for")
	}
	r := Ref{Host: u.Host, Repo: repo, PlainHTTP: isLoopback(u.Hostname())}
	ref := registry.Reference{Registry: r.Host, Repository: r.Repo}
	if err := ref.Validate(); err != nil {
		return bad(err.Error())
	}
	return r, nil
}

func redactRaw(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "xxxxx" + raw[i:]
		}
	}
	return raw
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ClientOptions are the connection settings shared by Push and Fetch.
type ClientOptions struct {
	RootCAs *x509.CertPool // CAs to trust (the system's plus the caller's extra ones); nil: the system's
	// AuthFile, when set, is a containers-auth.json (podman, skopeo,
	// buildah) whose credentials win over the Docker config's. The CLI
	// passes $REGISTRY_AUTH_FILE; this package reads no variable of its own.
	AuthFile   string
	Connect    time.Duration // TCP connect and TLS handshake (0 = 5s)
	Timeout    time.Duration // wait for response headers (0 = 30s)
	HTTPClient *http.Client  // for tests: used as is
	// Wait, when set, is called with true when a request starts waiting
	// for response headers and with false when they arrived (or it failed).
	Wait func(on bool)
	// Got, when set, is called with the number of body bytes each read of
	// any answer brought (tag lists, manifests, configs, the layer): the
	// racer in fetch judges a mirror by every byte it reads.
	Got func(n int)
	// Stall, when > 0, cuts the body of any answer (tag list, manifest,
	// config, layer) that brings no bytes for this long (httpx.Watch).
	Stall time.Duration
}

// credentialStore is authFile (when set) then the Docker config:
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json. DOCKER_CONFIG is
// Docker's own convention (as HOME is), read here as every Docker client
// reads it, so a registry bundle is fetched with the same credentials
// `docker pull` would use.
func credentialStore(authFile string) (credentials.Store, error) {
	var stores []credentials.Store
	if authFile != "" {
		if err := checkCredentialFile(authFile); err != nil {
			return nil, fmt.Errorf("registry auth file %s: %w", authFile, err)
		}
		s, err := credentials.NewStore(authFile, credentials.StoreOptions{})
		if err != nil {
			return nil, fmt.Errorf("registry auth file %s: %w", authFile, scrub(err))
		}
		stores = append(stores, s)
	}
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".docker")
		}
	}
	if dir != "" {
		p := filepath.Join(dir, "config.json")
		if err := checkCredentialFile(p); err != nil {
			return nil, fmt.Errorf("docker config %s: %w", p, err)
		}
		s, err := credentials.NewStore(p, credentials.StoreOptions{})
		if err != nil {
			return nil, fmt.Errorf("docker config %s: %w", p, scrub(err))
		}
		stores = append(stores, s)
	}
	if len(stores) == 0 {
		return credentials.NewMemoryStore(), nil
	}
	return credentials.NewStoreWithFallbacks(stores[0], stores[1:]...), nil
}

// maxCredentialFile bounds a credentials file (a Docker config.json with
// many registries is a few KiB).
const maxCredentialFile = 4 << 20

// checkCredentialFile reads the credentials file p through the safe reader
// before oras-go reads it (which it does without bounds): a FIFO, a device
// (a link to /dev/zero) or a file over maxCredentialFile is refused at once
// instead of hanging the run or reading without end. A file that does not
// exist is fine (no credentials from it).
func checkCredentialFile(p string) error {
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := safeio.ReadFile(p, maxCredentialFile); err != nil {
		return fmt.Errorf("not a readable credentials file: %w", err)
	}
	return nil
}

// scrub keeps a config parse error's message but drops its details (a JSON
// syntax error can quote bytes of the file, which may be a credential).
func scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if i := strings.Index(msg, ": invalid config format"); i >= 0 {
		return errors.New("not a valid config file (invalid JSON or auth entry)")
	}
	if strings.Contains(msg, "auth") || strings.Contains(msg, "token") {
		return errors.New("not a valid config file")
	}
	return err
}

// repository opens r with credentials from the user's config files.
func repository(r Ref, o ClientOptions) (*remote.Repository, *http.Client, error) {
	hc := o.HTTPClient
	if hc == nil {
		var err error
		if hc, err = httpClient(o); err != nil {
			return nil, nil, err
		}
	} else if o.Wait != nil || o.Got != nil || o.Stall > 0 {
		c := *hc
		base := c.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		c.Transport = waitTransport{base: base, wait: o.Wait, got: o.Got, stall: o.Stall}
		hc = &c
	}
	store, err := credentialStore(o.AuthFile)
	if err != nil {
		return nil, nil, failure.New(failure.Usage, "registry credentials: %w", err).
			WithHint("fix or remove the file").Suggest(failure.RegistryLogin)
	}
	repo, err := remote.NewRepository(r.Host + "/" + r.Repo)
	if err != nil {
		return nil, nil, failure.New(failure.Usage, "bad registry mirror %s: %w", r, err).WithHint("%s", refHint)
	}
	repo.PlainHTTP = r.PlainHTTP
	repo.TagListMaxPages = 100
	repo.Client = &auth.Client{
		Client:     hc,
		Cache:      auth.NewCache(),
		Credential: credentials.Credential(store),
		Header:     http.Header{"User-Agent": {"slurm-installer"}},
	}
	return repo, hc, nil
}

func httpClient(o ClientOptions) (*http.Client, error) {
	connect, header := o.Connect, o.Timeout
	if connect <= 0 {
		connect = 5 * time.Second
	}
	if header <= 0 {
		header = 30 * time.Second
	}
	tr := httpx.Transport(connect, header, o.RootCAs)
	var rt http.RoundTripper = tr
	if o.Wait != nil || o.Got != nil || o.Stall > 0 {
		rt = waitTransport{base: tr, wait: o.Wait, got: o.Got, stall: o.Stall}
	}
	return &http.Client{Transport: rt}, nil
}

// waitTransport reports the wait for response headers and the body bytes
// of every answer (the racer in fetch starts the next mirror when one
// keeps it waiting or brings nothing), and cuts a body that stalls.
type waitTransport struct {
	base  http.RoundTripper
	wait  func(bool)
	got   func(int)
	stall time.Duration
}

func (t waitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.stall <= 0 {
		return t.roundTrip(req)
	}
	parent := req.Context()
	ctx, cancel := context.WithCancelCause(parent)
	resp, err := t.roundTrip(req.WithContext(ctx))
	if err != nil || resp == nil || resp.Body == nil {
		cancel(nil)
		return resp, err
	}
	w := httpx.Watch(parent, resp.Body, t.stall, cancel)
	resp.Body = &watchedBody{Watched: w, body: resp.Body, cancel: cancel}
	return resp, nil
}

// roundTrip reports the wait for headers and the body's bytes.
func (t waitTransport) roundTrip(req *http.Request) (*http.Response, error) {
	if t.wait != nil {
		t.wait(true)
	}
	resp, err := t.base.RoundTrip(req)
	if t.wait != nil {
		t.wait(false)
	}
	if err == nil && resp != nil && resp.Body != nil && t.got != nil {
		resp.Body = gotBody{ReadCloser: resp.Body, got: t.got}
	}
	return resp, err
}

// watchedBody is a body under the stall watchdog.
type watchedBody struct {
	*httpx.Watched
	body   io.Closer
	cancel context.CancelCauseFunc
}

func (b *watchedBody) Close() error {
	b.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}

// gotBody reports the bytes each read brings.
type gotBody struct {
	io.ReadCloser
	got func(int)
}

func (b gotBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.got(n)
	}
	return n, err
}

// closeIdle drops the client's idle connections (no connection outlives a call).
func closeIdle(hc *http.Client) {
	if hc != nil {
		hc.CloseIdleConnections()
	}
}

// layerSuffix is the file name ending of a bundle layer of media type mt,
// "" for a type that is not a bundle layer: the media type (in the
// manifest the layer digest is checked against) is what tells the
// extractor the format.
func layerSuffix(mt string) string {
	switch mt {
	case LayerMediaType:
		return ".tar.gz"
	case ZstdLayerMediaType:
		return ".tar.zst"
	}
	return ""
}
