package slurmver

import "testing"

func TestCompare(t *testing.T) {
	ordered := []string{"17.11.13", "22.05.2", "22.05.8", "22.05.10", "23.02.1", "23.11.10", "24.11.5"}
	for i := range ordered {
		for j := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := Compare(ordered[i], ordered[j]); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if Compare("23.02", "23.02.0") != 0 || Compare("22.05.8-1", "22.05.8") <= 0 {
		t.Error("missing parts and suffixes")
	}
}

func TestKindAndMatches(t *testing.T) {
	kinds := map[string]Kind{"": Latest, "latest": Latest, "cluster": Cluster, "22.05": Series,
		"22.05.8": Exact, "24.11.5-1": Exact, "22": Exact}
	for sel, want := range kinds {
		if got := KindOf(sel); got != want {
			t.Errorf("KindOf(%q) = %s, want %s", sel, got, want)
		}
	}
	yes := [][2]string{{"22.05", "22.05.8"}, {"22.05", "22.05.10"}, {"22.05", "22.05.8-1"}, {"22.05.8", "22.05.8"},
		{"latest", "24.11.5"}, {"24.11", "24.11.0rc1"}}
	no := [][2]string{{"22.05", "22.050.1"}, {"22.05", "23.02.1"}, {"22.05.8", "22.05.80"}, {"22.05", "2.05.8"}}
	for _, c := range yes {
		if !Matches(c[0], c[1]) {
			t.Errorf("Matches(%q, %q) = false", c[0], c[1])
		}
	}
	for _, c := range no {
		if Matches(c[0], c[1]) {
			t.Errorf("Matches(%q, %q) = true", c[0], c[1])
		}
	}
	if SeriesOf("24.11.5") != "24.11" || SeriesOf("v22.05.8-1") != "22.05" || SeriesOf("x") != "" {
		t.Error("SeriesOf")
	}
}

// One VERSION parser for install, pack and the tree layout (issue 15: they
// disagreed, and a tree whose VERSION read "slurm 22.05.8" failed with exit 4).
func TestFromFile(t *testing.T) {
	for in, want := range map[string]string{
		"22.05.8\n":                             "22.05.8",
		"slurm 22.05.8\n":                       "22.05.8",
		"slurm-wlm 24.11.5\r\n":                 "24.11.5",
		"# built by AppHub\n\n22.05.8\n":        "22.05.8",
		"version=\"23.02.1\"\nself_contained=1": "23.02.1",
		"22.05.8\nself_contained=true\nprefix=/usr/local/slurm\n": "22.05.8",
		"":                   "",
		"# nothing\n":        "",
		"self_contained=1\n": "",
	} {
		if got := FromFile([]byte(in)); got != want {
			t.Errorf("FromFile(%q) = %q, want %q", in, got, want)
		}
	}
}
