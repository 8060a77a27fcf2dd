package secevent

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestEventsDocumented: SECURITY.md's "Security events" names every event.
func TestEventsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range All {
		if !strings.HasPrefix(e.Name, "security.") {
			t.Errorf("event %q: not named security.…", e.Name)
		}
		if !bytes.Contains(doc, []byte("`"+e.Name+"`")) {
			t.Errorf("SECURITY.md does not list the security event %s", e.Name)
		}
	}
}
