package connect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// maxCapture bounds the bytes kept from the controller's answers.
const maxCapture = 8 << 20

// relay forwards connections from a port on 127.0.0.1 to the controller and
// keeps (bounded) what the controller answers: the installed client fetches
// the configuration through it, and the configuration is read from the
// answer (the client itself keeps it only in memory).
type relay struct {
	ln     net.Listener
	target string
	dial   time.Duration

	mu    sync.Mutex
	got   [][]byte
	conns []net.Conn
	wg    sync.WaitGroup
	// found is closed once an answer holds a slurm.conf: the client need
	// not run any longer.
	found chan struct{}
}

func newRelay(target string, dial time.Duration) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target, dial: dial, found: make(chan struct{})}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// addr is where the client connects.
func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go r.forward(c)
	}
}

func (r *relay) track(c net.Conn) {
	r.mu.Lock()
	r.conns = append(r.conns, c)
	r.mu.Unlock()
}

func (r *relay) forward(c net.Conn) {
	defer r.wg.Done()
	defer c.Close()
	r.track(c)
	s, err := net.DialTimeout("tcp", r.target, r.dial)
	if err != nil {
		return
	}
	defer s.Close()
	r.track(s)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(s, c)
		if tc, ok := s.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	var buf capped
	_, _ = io.Copy(io.MultiWriter(c, &buf), s)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
	r.mu.Lock()
	r.got = append(r.got, buf.Bytes())
	if _, _, err := confFromAnswer(r.got); err == nil {
		select {
		case <-r.found:
		default:
			close(r.found)
		}
	}
	r.mu.Unlock()
}

// close stops listening, cuts every connection and waits for the
// forwarders; it returns what the controller answered, per connection.
func (r *relay) close() [][]byte {
	_ = r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

// capped keeps the first maxCapture bytes written to it.
type capped struct{ bytes.Buffer }

func (b *capped) Write(p []byte) (int, error) {
	if room := maxCapture - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// errNoConf says the controller's answer held no slurm.conf.
var errNoConf = errors.New("the controller's answer holds no slurm.conf")

// confFromAnswer finds slurm.conf in a controller's RESPONSE_CONFIG as it
// travels on the wire. SLURM packs each configuration file (from 21.08 on)
// as a flag, its name and its content, the strings as a 32-bit big-endian
// length that counts a final NUL, then the bytes: so the content follows
// the packed name "slurm.conf". The other files it finds (by the same
// rule, for names ending in .conf) come back in files.
func confFromAnswer(answers [][]byte) (conf []byte, files map[string][]byte, err error) {
	files = map[string][]byte{}
	for _, a := range answers {
		for i := 0; i+4 <= len(a); i++ {
			n := int(binary.BigEndian.Uint32(a[i:]))
			if n < 2 || n > 256 || i+4+n+4 > len(a) || a[i+4+n-1] != 0 {
				continue
			}
			name := a[i+4 : i+4+n-1]
			if !bytes.HasSuffix(name, []byte(".conf")) || !plainName(name) {
				continue
			}
			j := i + 4 + n
			m := int(binary.BigEndian.Uint32(a[j:]))
			if m < 1 || j+4+m > len(a) || a[j+4+m-1] != 0 {
				continue
			}
			body := a[j+4 : j+4+m-1]
			if bytes.IndexByte(body, 0) >= 0 {
				continue
			}
			if _, seen := files[string(name)]; !seen {
				files[string(name)] = append([]byte(nil), body...)
			}
			i = j + 4 + m - 1
		}
	}
	conf, ok := files["slurm.conf"]
	if !ok {
		return nil, nil, errNoConf
	}
	delete(files, "slurm.conf")
	return conf, files, nil
}

// plainName: a configuration file's base name (letters, digits, ._-).
func plainName(b []byte) bool {
	for _, c := range b {
		if !(c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// ctxDone reports whether ctx has ended.
func ctxDone(ctx context.Context) bool { return ctx.Err() != nil }
