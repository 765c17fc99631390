package httpx

import (
	"net/http"
	"strconv"
	"strings"
)

// Kind says what a failed read from a mirror means for that mirror: the
// one error-kind type of every source (AppHub mirrors in fetch,
// registries in oci); the racer in fetch acts on it.
type Kind int

// The kinds.
const (
	NotFound   Kind = iota // an answer (404, 403, 410, other 4xx, a missing file or tag): move on, never retry
	Retry                  // connection error, timeout, stall, 408, 429, 5xx, a cut body: try other mirrors, then retry
	Fatal                  // neither (TLS certificate, redirect loop, a bad answer): give up on the mirror
	Integrity              // bytes failed verification
	Oversize               // more bytes than the limit
	Local                  // writing the download failed: abort the whole run
	Preempted              // another mirror's answer won the race: not a failure of this one
	BadArchive             // the bytes are not an archive of the expected type (an HTML error page)
	Unrunnable             // the mirror has bundles for the selector, but none can run in the root
)

var kindNames = [...]string{"not found", "retry", "fatal", "integrity", "oversize", "local", "preempted", "bad archive", "unrunnable"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind " + strconv.Itoa(int(k))
}

// StatusKind is the kind of an HTTP answer that is not a success: 408,
// 429, 5xx but 501 (and a 1xx) are worth a retry; any other is an answer.
func StatusKind(code int) Kind {
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 && code != http.StatusNotImplemented || code < 200 {
		return Retry
	}
	return NotFound
}

// ContentRangeStart parses the start of a Content-Range header,
// "bytes START-END/SIZE".
func ContentRangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	return n, err == nil && n >= 0
}
