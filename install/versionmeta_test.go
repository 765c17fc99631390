package install

import "testing"

func TestParseVersionMeta(t *testing.T) {
	for _, c := range []struct {
		in      string
		version string
		sc      bool
		prefix  string
	}{
		{"22.05.8\n", "22.05.8", false, ""},
		{"22.05.8\nself_contained=true\nprefix=/usr/local/slurm\n", "22.05.8", true, "/usr/local/slurm"},
		{"# comment\nslurm 22.05.8\nself_contained=false\nprefix=/opt/slurm/\n", "22.05.8", false, "/opt/slurm"},
		{"VERSION=23.02.1\nSELF_CONTAINED = true\n", "23.02.1", true, ""},
	} {
		v := parseVersionFile([]byte(c.in))
		sc, prefix := parseVersionMeta([]byte(c.in))
		if v != c.version || sc != c.sc || prefix != c.prefix {
			t.Errorf("%q: version %q self_contained %v prefix %q; want %q %v %q", c.in, v, sc, prefix, c.version, c.sc, c.prefix)
		}
	}
}
