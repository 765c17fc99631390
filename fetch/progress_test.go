package fetch

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestProgressOnce: on a terminal the finished line is drawn once, not
// again by done (issue 26), and a log line carries its numbers in fields
// only, not again in the message.
func TestProgressOnce(t *testing.T) {
	var live bytes.Buffer
	s := &session{o: Options{Progress: ProgressLive, ProgressOut: &live}}
	p := s.newProgress("b.tar.gz")
	p.setTotal(1000)
	p.last = time.Now().Add(-time.Hour) // the next write draws
	p.Write(make([]byte, 1000))
	p.done()
	if n := strings.Count(live.String(), "(100%)"); n != 1 {
		t.Errorf("the 100%% line is drawn %d times: %q", n, live.String())
	}
	if !strings.HasSuffix(live.String(), "\n") {
		t.Errorf("the live line is not ended: %q", live.String())
	}

	// A download whose last write was not drawn still ends on its 100 % line.
	live.Reset()
	p = s.newProgress("b.tar.gz")
	p.setTotal(1000)
	p.last = time.Now().Add(-time.Hour)
	p.Write(make([]byte, 500))
	p.Write(make([]byte, 500)) // within liveEvery: not drawn
	p.done()
	if n := strings.Count(live.String(), "(100%)"); n != 1 {
		t.Errorf("the 100%% line is drawn %d times: %q", n, live.String())
	}

	var logged bytes.Buffer
	s = &session{o: Options{Progress: ProgressLog}, log: zerolog.New(&logged)}
	p = s.newProgress("b.tar.gz")
	p.setTotal(4 << 20)
	p.n = 1 << 20
	p.logLine(time.Now())
	out := logged.String()
	if !strings.Contains(out, `"message":"downloading b.tar.gz"`) || !strings.Contains(out, `"percent":25`) || strings.Contains(out, "MiB /") {
		t.Errorf("progress log line = %s", out)
	}
}
