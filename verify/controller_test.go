package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	rt "slurm-installer/internal/testkit/rootfstest"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
)

// TestAskController: install --slurm-version cluster learns the
// controller's version through the installed scontrol.
func TestAskController(t *testing.T) {
	needRoot(t)
	sinfo := goBin(t, platform.GoArch(platform.Host()), fakeSinfo)
	conf := "ClusterName=c\nSlurmctldHost=up\nPluginDir=" + prefix + "/lib/slurm\n"
	for _, tc := range []struct {
		name, conf string
		scontrol   bool
		ctl        string
		err        string
		class      failure.Class
	}{
		{name: "answers", conf: conf + "TestCtlVersion=24.11.5\n", scontrol: true, ctl: "24.11.5"},
		{name: "no site conf", scontrol: true, err: "needs /etc/slurm/slurm.conf", class: failure.Usage},
		{name: "no scontrol", conf: conf + "TestCtlVersion=24.11.5\n", err: "/usr/local/bin/scontrol is not in the root", class: failure.Verify},
		{name: "down", conf: conf, scontrol: true, err: "Unable to contact slurm controller", class: failure.Verify},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := runRoot(t, sinfo, false)
			if tc.scontrol {
				rt.Copy(t, root, sinfo, prefix+"/bin/scontrol")
				rt.Symlink(t, root, prefix+"/bin/scontrol", "/usr/local/bin/scontrol")
			}
			if tc.conf != "" {
				rt.WriteFile(t, root, "/etc/slurm/slurm.conf", tc.conf)
			}
			ctl, client, err := AskController(context.Background(), RunInput{RootDir: root, Chroot: true})
			if tc.err == "" {
				if err != nil || ctl != tc.ctl || client != "22.05.8" {
					t.Fatalf("AskController = %q, %q, %v; want %q", ctl, client, err, tc.ctl)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || failure.ClassOf(err) != tc.class {
				t.Fatalf("AskController = %q, %v (class %v); want %q, class %v", ctl, err, failure.ClassOf(err), tc.err, tc.class)
			}
		})
	}
	root := runRoot(t, sinfo, false)
	rt.Copy(t, root, sinfo, prefix+"/bin/scontrol")
	rt.Symlink(t, root, prefix+"/bin/scontrol", "/usr/local/bin/scontrol")
	rt.WriteFile(t, root, "/etc/slurm/slurm.conf", conf+"TestCtlVersion=24.11.5\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := AskController(ctx, RunInput{RootDir: root, Chroot: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
