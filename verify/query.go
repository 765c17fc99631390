package verify

import (
	"context"
	"time"
)

// SackdConf is where sackd (23.11+) caches the configuration it fetches
// configless; client commands read it when the root has no
// /etc/slurm/slurm.conf, before they would fetch one themselves.
const SackdConf = "/run/slurm/conf/slurm.conf"

// Query runs the installed command in.Command (default sinfo) with args in
// the root the way the cluster check does: in the sandbox with the host's
// network, a minimal environment plus env, bounded by in.Timeout (default
// 20 s), and a /proc of its own (the configless client reads what it
// fetched back through /proc/<pid>/fd). It is how connecting to a cluster asks the real client to fetch
// the controller's configuration (env then names the configuration
// server) before any slurm.conf exists in the root.
//
// Errors are those of [Cluster]'s run: ErrCannotExec (wrapped),
// failure.Verify for a non-zero exit (with its stderr), a timeout.
func Query(ctx context.Context, in RunInput, env []string, args ...string) (stdout, stderr string, err error) {
	t, err := prepare(in, 20*time.Second)
	if err != nil {
		return "", "", err
	}
	t.proc = true
	return t.run(ctx, env, true, nil, args...)
}

// Window says which controllers a client of this version can talk to
// (docs/DESIGN.md §9), in words.
func Window(client string) string { return windowText(client) }
