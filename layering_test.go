// Package usersync_test holds the checks that span the whole module: the
// arrows between its packages point the way style.md says.
package usersync_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/usersync/usersync"

// deps lists, for every package of the module, the packages it depends on
// (transitively, tests excluded), from `go list -deps`.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

// TestLayering_ArrowsPointDown fails when a package imports one it must not:
// directory/... knows neither store nor tui nor importer; store knows
// neither tui nor importer; importer knows not tui; only directory/entra
// (and the binary that wires it) pulls in Microsoft's Graph SDK; the tui's
// widget packages (tui/list, tui/visible) know nothing of the app.
func TestLayering_ArrowsPointDown(t *testing.T) {
	if testing.Short() {
		t.Skip("go list over the module")
	}
	rules := []struct {
		from      string // package path prefix (under the module)
		forbidden []string
	}{
		{"directory", []string{module + "/store", module + "/tui", module + "/importer", module + "/demo", module + "/cmd"}},
		{"store", []string{module + "/tui", module + "/importer", module + "/demo", module + "/cmd"}},
		{"importer", []string{module + "/tui", module + "/demo", module + "/cmd"}},
		{"tui", []string{module + "/cmd", module + "/demo", "github.com/microsoftgraph/msgraph-sdk-go"}},
		{"demo", []string{module + "/tui", module + "/cmd"}},
		// The tui's widgets know nothing of the app: no records, no
		// sources, no screens.
		{"tui/list", []string{module + "/store", module + "/directory", module + "/importer", module + "/tui/serve"}},
		{"tui/visible", []string{module + "/store", module + "/directory", module + "/importer", module + "/tui/serve", module + "/tui/list"}},
	}
	all := deps(t)
	if len(all) < 5 {
		t.Fatalf("go list found %d packages", len(all))
	}
	for pkg, ds := range all {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		for _, r := range rules {
			if rel != r.from && !strings.HasPrefix(rel, r.from+"/") {
				continue
			}
			for _, d := range ds {
				for _, f := range r.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s depends on %s: the arrow points the wrong way", pkg, d)
					}
				}
			}
		}
		// Only directory/entra imports the Graph SDK directly.
		if !strings.HasPrefix(rel, "directory/entra") && !strings.HasPrefix(rel, "cmd/") {
			for _, d := range ds {
				if strings.HasPrefix(d, "github.com/microsoftgraph/msgraph-sdk-go") {
					t.Errorf("%s depends on %s: only directory/entra may", pkg, d)
					break
				}
			}
		}
	}
}
