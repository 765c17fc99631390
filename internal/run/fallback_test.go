package run

import (
	"testing"

	"slurm-installer/internal/failure"
)

// TestDecide is the fallback policy's table (docs/DESIGN.md §3).
func TestDecide(t *testing.T) {
	dl := failure.Download
	for _, c := range []struct {
		name string
		f    failureFacts
		want outcome
	}{
		{"signal beats everything", failureFacts{stopped: true, class: dl, fallback: "demo"}, outInterrupted},
		{"signal with a working install", failureFacts{stopped: true, class: dl, fallback: "demo", working: true}, outInterrupted},
		{"signal under fail", failureFacts{stopped: true, class: dl, fallback: "fail"}, outInterrupted},
		{"fail policy", failureFacts{class: dl, fallback: "fail"}, outFail},
		{"fail policy keeps nothing", failureFacts{class: dl, fallback: "fail", working: true}, outFail},
		{"usage is never demo", failureFacts{class: failure.Usage, fallback: "demo"}, outFail},
		{"a held lock is never demo", failureFacts{class: failure.Locked, fallback: "demo"}, outFail},
		{"cancelled is never demo", failureFacts{class: failure.Internal, canceled: true, fallback: "demo"}, outFail},
		{"not ours is never demo", failureFacts{class: failure.FileSystem, notOurs: true, fallback: "demo"}, outFail},
		{"not ours with a working install", failureFacts{class: failure.FileSystem, notOurs: true, fallback: "demo", working: true}, outFail},
		{"download, working install kept", failureFacts{class: dl, fallback: "demo", working: true}, outKeepPrevious},
		{"integrity, working install kept", failureFacts{class: failure.Integrity, fallback: "demo", working: true}, outKeepPrevious},
		{"download, nothing installed: demo", failureFacts{class: dl, fallback: "demo"}, outRecordDemo},
		{"verify, nothing installed: demo", failureFacts{class: failure.Verify, fallback: "demo"}, outRecordDemo},
		{"archive, nothing installed: demo", failureFacts{class: failure.Archive, fallback: "demo"}, outRecordDemo},
		{"file system (not a refusal): demo", failureFacts{class: failure.FileSystem, fallback: "demo"}, outRecordDemo},
	} {
		if got := decide(c.f); got != c.want {
			t.Errorf("%s: decide(%+v) = %s, want %s", c.name, c.f, got, c.want)
		}
	}
}
