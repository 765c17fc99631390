package verify

import (
	"strings"
	"testing"
)

func TestProtocolWindow(t *testing.T) {
	for _, tc := range []struct{ ctl, lo, hi string }{
		{"22.05.8", "20.11", "22.05"},
		{"23.02.7", "21.08", "23.02"},
		{"23.11.10", "22.05", "23.11"},
		{"24.05.1", "23.02", "24.05"},
		{"24.11.5", "23.02", "24.11"}, // three previous from 24.11 on
		{"25.05.0", "23.11", "25.05"},
		{"25.11.2", "24.05", "25.11"},
	} {
		lo, hi, err := AcceptedClients(tc.ctl)
		if err != nil || lo != tc.lo || hi != tc.hi {
			t.Errorf("AcceptedClients(%s) = %s..%s, %v; want %s..%s", tc.ctl, lo, hi, err, tc.lo, tc.hi)
		}
	}
	for _, tc := range []struct{ client, lo, hi string }{
		{"22.05.8", "22.05", "23.11"},
		{"23.02.1", "23.02", "24.11"}, // 24.11 accepts three previous: 24.05, 23.11, 23.02
		{"23.11.4", "23.11", "25.05"},
		{"24.11.5", "24.11", "26.05"},
	} {
		lo, hi, err := controllerWindow(tc.client)
		if err != nil || lo != tc.lo || hi != tc.hi {
			t.Errorf("controllerWindow(%s) = %s..%s, %v; want %s..%s", tc.client, lo, hi, err, tc.lo, tc.hi)
		}
	}
	for _, tc := range []struct {
		client, ctl string
		ok          bool
	}{
		{"22.05.8", "22.05.8", true},
		{"24.11.5", "22.05.8", false}, // a client newer than the controller
		{"22.05.8", "23.11.1", true},
		{"22.05.8", "24.05.1", false}, // too old
		{"23.02.1", "24.11.0", true},
		{"23.02.1", "24.05.0", true},
		{"22.05.8", "24.11.0", false},
		{"21.08.8", "22.05.8", true},
		{"20.11.9", "22.05.8", true},
		{"20.02.7", "22.05.8", false},
	} {
		ok, err := CanTalk(tc.client, tc.ctl)
		if err != nil || ok != tc.ok {
			t.Errorf("CanTalk(%s, %s) = %v, %v; want %v", tc.client, tc.ctl, ok, err, tc.ok)
		}
	}
	if _, err := CanTalk("22.06.1", "22.05.8"); err == nil {
		t.Error("22.06 is not a SLURM major")
	}
	if _, _, err := controllerWindow("unknown"); err == nil {
		t.Error("unknown is not a version")
	}
	if i, err := majorIndex("24.11.5-4+deb13u1"); err != nil || knownMajors[i] != "24.11" {
		t.Errorf("majorIndex(24.11.5-4+deb13u1) = %d, %v", i, err)
	}
}

func TestClassifyClusterOutput(t *testing.T) {
	for out, want := range map[string]ClusterFailure{
		"slurm_load_partitions: Zero Bytes were transmitted or received":                    FailProtocol,
		"squeue: error: slurm_load_jobs error: Zero Bytes were transmitted or received":     FailProtocol,
		"error: slurm_receive_msg: Incompatible versions of client and server code":         FailProtocol,
		"error: Invalid Protocol Version 9984 from uid=0":                                   FailProtocol,
		"slurm_load_partitions: Unable to contact slurm controller (connect failure)":       FailUnreachable,
		"sinfo: error: If munged is up, restart with --num-threads=10\nMunge encode failed": FailAuth,
		"slurm_load_partitions: Protocol authentication error":                              FailAuth, // munge, not the protocol window
		"sinfo: error: Security violation, ping RPC from uid 65534":                         FailOther,
		"sinfo: fatal: Could not establish a configuration source":                          FailUnreachable,
	} {
		if got := ClassifyClusterOutput(out); got != want {
			t.Errorf("ClassifyClusterOutput(%q) = %v, want %v", out, got, want)
		}
	}
	if v := controllerVersion("Configuration data as of x\nSLURM_CONF              = /etc/slurm/slurm.conf\nSLURM_VERSION           = 22.05.8\n"); v != "22.05.8" {
		t.Errorf("controllerVersion = %q", v)
	}
	if !strings.Contains(windowText("24.11.5"), "can talk to controllers of SLURM 24.11 to 26.05 only") {
		t.Error(windowText("24.11.5"))
	}
}
