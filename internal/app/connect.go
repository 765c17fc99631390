package app

// The connect command: wire the installed client to its cluster at container start.
import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/connect"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/httpx"
)

// connectOptions are connect's.
type connectOptions struct {
	out outputOptions
	targetOptions
	controller, confURL string
	force, json         bool
	timeout, lockWait   time.Duration
}

func (o *connectOptions) flags(b *binder) []cli.Flag {
	return []cli.Flag{
		b.String(&o.controller, &cli.StringFlag{Name: "controller", Usage: "slurmctld's address, HOST[:PORT] (port 6817 by default)", Category: catSource}),
		b.String(&o.confURL, &cli.StringFlag{Name: "conf-url", Usage: "a slurm.conf the site publishes (e.g. on AppHub), instead of the controller's configless one", Category: catSource}),
		b.Bool(&o.force, &cli.BoolFlag{Name: "force", Usage: "move a slurm.conf connect did not write to a backup (uninstall puts it back) instead of refusing", Category: catPolicy}),
		b.Duration(&o.timeout, &cli.DurationFlag{Name: "query-timeout", Value: 30 * time.Second, Usage: "bound on each query of the controller", Category: catNetwork}),
		b.Bool(&o.json, &cli.BoolFlag{Name: "json", Usage: "print the checks as JSON on stdout", Category: catOutput}),
		lockFlag(b, &o.lockWait),
	}
}

func (u *ui) connectCommand() *cli.Command {
	o, b := &connectOptions{}, &binder{}
	flags := append(o.out.flags(b), o.targetOptions.flags(b)...)
	flags = append(flags, o.flags(b)...)
	return &cli.Command{Name: "connect", Usage: "connect the installed client to its cluster (run at container start, never at build time)", Flags: flags,
		Before: u.before(b, &o.out), Action: func(c *cli.Context) error { return u.runConnect(c, o) }}
}

func (u *ui) runConnect(c *cli.Context, o *connectOptions) error {
	in, r, err := u.openInstalled(c, o.targetOptions)
	if err != nil {
		return err
	}
	defer in.Close()
	if r == nil || r.Mode != install.ModeReal {
		return &failure.Error{Class: failure.NotInstalled, Err: fmt.Errorf("no real SLURM client is installed in %s to connect", in.Options().RootDir),
			Hints: failure.Hints{Fix: []failure.Remedy{{Step: failure.Install}}}}
	}
	unlock, err := in.Lock(c.Context, o.lockWait)
	if err != nil {
		return err
	}
	defer unlock()
	opts := connect.Options{RootDir: in.Options().RootDir, Prefix: r.Prefix, BinDir: r.BinDir, Version: r.Version, Controller: o.controller,
		ConfURL: o.confURL, Force: o.force, Timeout: o.timeout, Log: u.log, FetchURL: fetchConf}
	res, err := connect.Connect(c.Context, opts, true)
	if res != nil {
		u.printConnect(o.json, res)
	}
	if err != nil {
		return err
	}
	u.log.Info().Str("controller", res.Record.Controller).Str("source", res.Record.Source).Str("auth", res.Record.Auth).
		Msg("connected: any process in the root now runs sinfo, squeue and scontrol against the cluster")
	return nil
}

func (u *ui) printConnect(asJSON bool, res *connect.Result) {
	checks := make([]check, 0, len(res.Checks))
	for _, ch := range res.Checks {
		checks = append(checks, check{Name: ch.Name, OK: ch.OK, Detail: ch.Detail})
	}
	if !asJSON {
		u.printChecks(&verifyOptions{}, checkList{checks: checks})
		return
	}
	enc := json.NewEncoder(u.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		OK         bool    `json:"ok"`
		Controller string  `json:"controller"`
		Checks     []check `json:"checks"`
	}{res.Record.Connected, res.Record.Controller, checks})
	u.jsonDone = true
}

// maxConfBytes bounds a published slurm.conf.
const maxConfBytes = 4 << 20

// fetchConf reads a published slurm.conf (bounded, through the one transport).
func fetchConf(ctx context.Context, url string) ([]byte, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, failure.New(failure.Usage, "--conf-url %q is not an http:// or https:// URL", url)
	}
	cl := &http.Client{Transport: httpx.Transport(5*time.Second, 10*time.Second, nil), Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, failure.New(failure.Usage, "--conf-url: %w", err)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxConfBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxConfBytes)
	}
	return b, nil
}

// clusterChecks is verify --cluster on a root connect wired: the same
// ordered checks, writing nothing.
func clusterChecks(ctx context.Context, l *checkList, root string, r *install.Receipt) bool {
	opts := connect.Options{RootDir: root, Prefix: r.Prefix, BinDir: r.BinDir, Version: r.Version, Timeout: 20 * time.Second}
	rec, err := connect.Peek(root)
	if err != nil || rec == nil {
		return false
	}
	res, err := connect.Connect(ctx, opts, false)
	if res != nil {
		for _, ch := range res.Checks {
			if ch.OK {
				l.add(ch.Name, nil, ch.Detail)
			}
		}
	}
	if err != nil {
		l.add("cluster", err, "")
	}
	return true
}
