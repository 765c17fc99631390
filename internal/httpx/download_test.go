package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// file is what the test server serves: a request without Range gets half
// of it then a cut connection (cut), or the headers and half then silence
// (stall); ranges are honoured unless norange.
type file struct {
	body    []byte
	cut     bool
	stall   bool
	norange bool
	hits    atomic.Int32
}

func (f *file) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.hits.Add(1)
	rg := r.Header.Get("Range")
	if rg != "" && !f.norange {
		from, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(f.body)-1, len(f.body)))
		w.Header().Set("Content-Length", strconv.Itoa(len(f.body)-int(from)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(f.body[from:])
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if n == 1 && (f.cut || f.stall) {
		w.Write(f.body[:len(f.body)/2])
		w.(http.Flusher).Flush()
		if f.stall {
			<-r.Context().Done()
			return
		}
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
		return
	}
	w.Write(f.body)
}

func opener(url string) func(ctx context.Context, from int64, _ string) (*Part, error) {
	return func(ctx context.Context, from int64, _ string) (*Part, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if from > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		p := &Part{Body: resp.Body, Length: resp.ContentLength}
		if resp.StatusCode == http.StatusPartialContent {
			p.Partial = true
			p.Start, _ = ContentRangeStart(resp.Header.Get("Content-Range"))
		}
		return p, nil
	}
}

func TestDownload(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	cases := []struct {
		name     string
		f        *file
		size     int64
		limit    int64
		claim    bool
		want     error
		hits     int32
		restarts int
	}{
		{name: "whole", f: &file{}, claim: true, hits: 1},
		{name: "cut resumes with a range", f: &file{cut: true}, claim: true, hits: 2},
		{name: "stall resumes with a range", f: &file{stall: true}, claim: true, hits: 2},
		{name: "range ignored restarts", f: &file{cut: true, norange: true}, claim: true, hits: 2, restarts: 1},
		{name: "preempted", f: &file{}, claim: false, want: ErrPreempted, hits: 1},
		{name: "over the limit", f: &file{}, limit: 100, claim: true, want: &SizeError{}, hits: 1},
		{name: "not the promised size", f: &file{}, size: int64(len(body)) + 1, claim: true, want: &SizeError{}, hits: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.f.body = body
			srv := httptest.NewServer(c.f)
			defer srv.Close()
			var out bytes.Buffer
			restarts := 0
			limit := c.limit
			if limit == 0 {
				limit = 1 << 30
			}
			d := &Download{Open: opener(srv.URL), Claim: func(int64) bool { return c.claim }, W: &out,
				Restart: func() error { restarts++; out.Reset(); return nil },
				Limit:   limit, Size: c.size, Stall: 200 * time.Millisecond, Resumes: 3}
			n, err := d.Run(context.Background())
			switch want := c.want.(type) {
			case nil:
				if err != nil || n != int64(len(body)) || !bytes.Equal(out.Bytes(), body) {
					t.Fatalf("n %d, %d bytes out, err %v", n, out.Len(), err)
				}
			case *SizeError:
				if !errors.As(err, &want) {
					t.Fatalf("err = %v, want a size error", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if h := c.f.hits.Load(); h != c.hits {
				t.Errorf("%d requests, want %d", h, c.hits)
			}
			if restarts != c.restarts {
				t.Errorf("%d restarts, want %d", restarts, c.restarts)
			}
		})
	}
}

func TestWatchStalls(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { <-ctx.Done(); pr.CloseWithError(context.Cause(ctx)) }()
	w := Watch(context.Background(), pr, 50*time.Millisecond, cancel)
	defer w.Stop()
	if _, err := w.Read(make([]byte, 10)); !errors.Is(err, ErrStalled) {
		t.Fatalf("err = %v, want ErrStalled", err)
	}
}
