package main

import (
	"net/http"
	"strings"
	"testing"

	"portal/internal/testenv"
)

// TestOperatorCommands: `portal operator add` makes an account an operator
// of the deployment, which a running Portal honours at the next request
// (the survey's results); `list` names the operators, also those of
// PORTAL_OPERATORS; `remove` undoes add but not the setting; unknown
// addresses and bad usage fail.
func TestOperatorCommands(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			o := newOperatorSetup(t, d)
			base := o.serve(t)
			session := mustLogin(t, base, o.email, o.pw)
			results := func() int {
				t.Helper()
				code, _ := call(t, "GET", base+"/api/v1/survey/results", nil, session)
				return code
			}
			if code := results(); code != http.StatusForbidden {
				t.Fatalf("results before `portal operator add`: %d, want 403", code)
			}
			if err, out, _ := runCmd(t, []string{"operator", "list"}, o.vars); err != nil || !strings.Contains(out, "no operators") {
				t.Errorf("operator list with none: %v, %q", err, out)
			}
			err, out, stderr := runCmd(t, []string{"operator", "add", "Ann@Example.com"}, o.vars)
			if err != nil || out != "ann@example.com is now an operator: the user menu shows Survey Results\n" {
				t.Fatalf("operator add: %v, %q\n%s", err, out, stderr)
			}
			if code := results(); code != http.StatusOK {
				t.Errorf("results after `portal operator add`: %d, want 200", code)
			}
			if err, out, _ := runCmd(t, []string{"operator", "add", o.email}, o.vars); err != nil || !strings.Contains(out, "already an operator") {
				t.Errorf("operator add twice: %v, %q", err, out)
			}
			vars := map[string]string{"PORTAL_OPERATORS": "ops@example.com"}
			for k, v := range o.vars {
				vars[k] = v
			}
			err, out, _ = runCmd(t, []string{"operator", "list"}, vars)
			if err != nil || !strings.Contains(out, "ann@example.com\tAnn Lee\tportal operator add, ") || !strings.Contains(out, "ops@example.com\t(no account yet)\tPORTAL_OPERATORS\n") {
				t.Errorf("operator list: %v, %q", err, out)
			}
			if err, out, _ := runCmd(t, []string{"operator", "remove", o.email}, o.vars); err != nil || !strings.Contains(out, "is no longer an operator") {
				t.Errorf("operator remove: %v, %q", err, out)
			}
			if code := results(); code != http.StatusForbidden {
				t.Errorf("results after `portal operator remove`: %d, want 403", code)
			}
			if err, out, _ := runCmd(t, []string{"operator", "remove", o.email}, o.vars); err != nil || !strings.Contains(out, "was not made an operator") {
				t.Errorf("operator remove twice: %v, %q", err, out)
			}
			for _, args := range [][]string{{"operator", "add", "nobody@example.com"}, {"operator", "remove", "nobody@example.com"}} {
				if err, out, _ := runCmd(t, args, o.vars); err == nil || !strings.Contains(err.Error(), `no account has the`) || out != "" {
					t.Errorf("%v: %v, %q", args, err, out)
				}
			}
			for _, args := range [][]string{{"operator"}, {"operator", "add"}, {"operator", "promote", "ann@example.com"}, {"operator", "add", "-data-dir", "x"}} {
				if err, _, _ := runCmd(t, args, o.vars); err == nil || !strings.Contains(err.Error(), "operator") {
					t.Errorf("%v: %v, want a usage error", args, err)
				}
			}
			if err, _, _ := runCmd(t, []string{"operator", "list"}, map[string]string{"PORTAL_DATA_DIR": t.TempDir(), "PORTAL_OPERATORS": "not an address"}); err == nil || !strings.Contains(err.Error(), "PORTAL_OPERATORS") {
				t.Errorf("a bad PORTAL_OPERATORS: %v", err)
			}
		})
	}
}
