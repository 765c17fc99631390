package verify

import (
	"fmt"
	"regexp"
	"strings"

	"slurm-installer/internal/slurmver"
)

// SLURM's wire protocol (docs/DESIGN.md §9): a controller of major release N
// accepts clients of N and of the two previous majors, three from 24.11 on.
// A client newer than the controller, or too old for it, cannot talk to it,
// and both sides fail with the generic "Zero Bytes were transmitted or
// received" (the controller logs "Invalid Protocol Version").

// knownMajors are SLURM's major releases in order (YY.MM). From 23.11 on
// there is one every May and November; later ones are extrapolated.
var knownMajors = func() []string {
	m := []string{"17.02", "17.11", "18.08", "19.05", "20.02", "20.11", "21.08", "22.05", "23.02", "23.11"}
	for y := 24; y <= 40; y++ {
		m = append(m, fmt.Sprintf("%d.05", y), fmt.Sprintf("%d.11", y))
	}
	return m
}()

func majorIndex(version string) (int, error) {
	mj := slurmver.SeriesOf(version) // the major release: "24.11.5" → "24.11"
	for i, m := range knownMajors {
		if m == mj {
			return i, nil
		}
	}
	if mj == "" {
		return 0, fmt.Errorf("%q is not a SLURM version", version)
	}
	return 0, fmt.Errorf("%s is not a SLURM major release this installer knows", mj)
}

// previousAccepted is how many previous majors a controller of major
// index i accepts.
func previousAccepted(i int) int {
	if i >= indexOf("24.11") {
		return 3
	}
	return 2
}

func indexOf(major string) int {
	for i, m := range knownMajors {
		if m == major {
			return i
		}
	}
	return -1
}

// AcceptedClients returns the oldest and newest client major a controller
// of this version accepts: 22.05.8 → 20.11, 22.05; 24.11.5 → 23.11, 24.11
// (the majors between are accepted too).
func AcceptedClients(controller string) (oldest, newest string, err error) {
	i, err := majorIndex(controller)
	if err != nil {
		return "", "", err
	}
	lo := max(i-previousAccepted(i), 0)
	return knownMajors[lo], knownMajors[i], nil
}

// controllerWindow returns the oldest and newest controller major a client
// of this version can talk to: 22.05.8 → 22.05, 23.11; 24.11.5 → 24.11, 26.05.
func controllerWindow(client string) (oldest, newest string, err error) {
	c, err := majorIndex(client)
	if err != nil {
		return "", "", err
	}
	newest = knownMajors[c]
	for n := c; n < len(knownMajors) && n-c <= 3; n++ {
		if n-c <= previousAccepted(n) {
			newest = knownMajors[n]
		}
	}
	return knownMajors[c], newest, nil
}

// CanTalk reports whether a client of version client can talk to a
// controller of version controller.
func CanTalk(client, controller string) (bool, error) {
	c, err := majorIndex(client)
	if err != nil {
		return false, err
	}
	n, err := majorIndex(controller)
	if err != nil {
		return false, err
	}
	return c <= n && n-c <= previousAccepted(n), nil
}

// ClusterFailure is what a failed cluster check's output says.
type ClusterFailure int

// The kinds of cluster-check failure [ClassifyClusterOutput] tells apart.
const (
	FailOther       ClusterFailure = iota
	FailProtocol                   // the protocol-mismatch signature
	FailUnreachable                // the controller does not answer
	FailAuth                       // munge or authentication
)

func (k ClusterFailure) String() string {
	return [...]string{"other", "protocol mismatch", "unreachable", "authentication"}[k]
}

// ClassifyClusterOutput tells from a failed SLURM client command's output
// why it could not talk to the controller. "Zero Bytes were transmitted or
// received" (from slurm_load_partitions, slurm_load_jobs, ...) is what both
// sides print when their protocol versions are out of each other's window;
// "Protocol version" and "Incompatible versions" are other spellings of it.
func ClassifyClusterOutput(out string) ClusterFailure {
	s := strings.ToLower(out)
	has := func(subs ...string) bool { return containsAny(s, subs...) }
	switch {
	case has("zero bytes were transmitted or received", "invalid protocol version", "protocol version", "incompatible versions"):
		return FailProtocol
	case has("munge", "authentication", "invalid credential", "auth/"):
		return FailAuth
	case has("unable to contact slurm controller", "connection refused", "connect failure", "timed out", "no route to host",
		"network is unreachable", "name or service not known", "unable to resolve", "could not establish a configuration source"):
		return FailUnreachable
	}
	return FailOther
}

// windowText says which controllers a client of version can talk to.
func windowText(client string) string {
	lo, hi, err := controllerWindow(client)
	if err != nil {
		return fmt.Sprintf("this client is SLURM %s (%v)", client, err)
	}
	return fmt.Sprintf("this client is SLURM %s, which can talk to controllers of SLURM %s to %s only "+
		"(a controller accepts clients of its own major release and the two before it, three from 24.11 on)", client, lo, hi)
}

// controllerVersionRE finds SLURM_VERSION in `scontrol show config`.
var controllerVersionRE = regexp.MustCompile(`(?m)^\s*SLURM_VERSION\s*=\s*(\S+)`)

// controllerVersion returns SLURM_VERSION from `scontrol show config`
// output, "" when it is not there.
func controllerVersion(showConfig string) string {
	m := controllerVersionRE.FindStringSubmatch(showConfig)
	if m == nil {
		return ""
	}
	return m[1]
}

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
