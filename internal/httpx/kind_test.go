package httpx

import "testing"

func TestStatusKind(t *testing.T) {
	for code, want := range map[int]Kind{404: NotFound, 403: NotFound, 410: NotFound, 400: NotFound, 501: NotFound, 304: NotFound,
		408: Retry, 429: Retry, 500: Retry, 502: Retry, 503: Retry, 504: Retry, 100: Retry} {
		if got := StatusKind(code); got != want {
			t.Errorf("StatusKind(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestContentRangeStart(t *testing.T) {
	for v, want := range map[string]int64{"bytes 0-9/10": 0, "bytes 100-199/200": 100, " bytes 5-9/*": 5, "bytes 7-": 7} {
		if got, ok := ContentRangeStart(v); !ok || got != want {
			t.Errorf("ContentRangeStart(%q) = %d, %v; want %d", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "bytes", "items 0-9/10", "bytes -5/10", "bytes x-9/10", "bytes 09"} {
		if n, ok := ContentRangeStart(v); ok {
			t.Errorf("ContentRangeStart(%q) = %d, ok", v, n)
		}
	}
}
