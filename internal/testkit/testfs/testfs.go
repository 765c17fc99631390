// Package testfs holds file-tree and HTTP helpers shared by the CLI-level
// tests (signals, the kill matrix): a content snapshot of a directory tree,
// a readable difference of two snapshots, and a rate-limited file server.
// It is for tests only.
package testfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Tree maps every path under dir (relative to it) to its mode and, for a
// regular file, its size and content hash, or, for a link, its target.
func Tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			tg, _ := os.Readlink(p)
			v += " -> " + tg
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %d %s", fi.Size(), hex.EncodeToString(h.Sum(nil))[:16])
		}
		m[r] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Same reports whether two snapshots are equal.
func Same(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Diff lists what changed from before to after ("- p", "~ p", "+ p"),
// sorted, at most 12 entries; "" when they are the same.
func Diff(before, after map[string]string) string {
	var d []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			d = append(d, "- "+k)
		} else if w != v {
			d = append(d, "~ "+k+" ("+v+" => "+w+")")
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			d = append(d, "+ "+k)
		}
	}
	sort.Strings(d)
	if len(d) > 12 {
		d = append(d[:12], fmt.Sprintf("and %d more", len(d)-12))
	}
	return strings.Join(d, "; ")
}

// SlowHandler serves h's bodies at about rate bytes per second, so a
// download takes long enough for a signal or a kill to land in it.
func SlowHandler(h http.Handler, rate int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&slowWriter{ResponseWriter: w, rate: rate}, r)
	})
}

type slowWriter struct {
	http.ResponseWriter
	rate int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	const chunk = 32 << 10
	n := 0
	for len(p) > 0 {
		c := min(chunk, len(p))
		w, err := s.ResponseWriter.Write(p[:c])
		n += w
		if err != nil {
			return n, err
		}
		p = p[c:]
		time.Sleep(time.Duration(c) * time.Second / time.Duration(s.rate))
	}
	return n, nil
}
