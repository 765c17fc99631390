package app

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/run"
)

// TestJSONDocumented keeps docs/JSON.md and the --json output together
// (issue 26): every key any command prints has a row in the document, and
// no key is optional (omitempty) except where the document says a key is
// only on one check.
func TestJSONDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/JSON.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, v := range []any{run.Result{}, jsonError{}, verifyView{}, check{}, statusView{}, clusterView{}, install.Problem{},
		listView{}, fetch.MirrorOffers{}, fetch.Offer{}, run.Plan{}, fetch.Planned{}, fetch.Skip{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			if !strings.Contains(doc, "| `"+name+"` |") && !strings.Contains(doc, "| `"+name+"` (in ") && !strings.Contains(doc, `"`+name+`"`) {
				t.Errorf("%s.%s: the key %q is not in docs/JSON.md", typ, f.Name, name)
			}
			if strings.Contains(opts, "omit") && !(typ == reflect.TypeOf(check{}) && name == "deep") &&
				!(typ == reflect.TypeOf(statusView{}) && name == "time") {
				t.Errorf("%s.%s: %q is omitted when empty; docs/JSON.md says every key is always there", typ, f.Name, name)
			}
		}
	}
}
