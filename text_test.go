package portal

import "testing"

func TestTruncate(t *testing.T) {
	if got := Truncate("héllo", 2); got != "h" {
		t.Errorf("truncate = %q", got)
	}
	if got := Truncate("hello", 10); got != "hello" {
		t.Errorf("truncate = %q", got)
	}
}
