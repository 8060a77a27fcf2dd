package secevent

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestLog: an event carries the request's id and client address, the user
// the request authenticated as unless another is named, and marks the
// request as logged; outside a request it has neither.
func TestLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx := WithRequest(context.Background(), "rid-1", "192.0.2.7")
	if Logged(ctx) {
		t.Fatal("logged before any event")
	}
	SetUser(ctx, "u-1")
	Log(ctx, log, Forbidden, "", "reason", "no")
	Log(ctx, log, PasswordChanged, "u-2")
	Log(context.Background(), log, LoginFailed, "", "reason", "unknown_user")
	if !Logged(ctx) {
		t.Error("not marked as logged")
	}
	var recs []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	want := []map[string]any{
		{"level": "WARN", "event": "security.forbidden", "request_id": "rid-1", "client": "192.0.2.7", "user_id": "u-1", "reason": "no"},
		{"level": "INFO", "event": "security.password_changed", "request_id": "rid-1", "client": "192.0.2.7", "user_id": "u-2"},
		{"level": "WARN", "event": "security.login_failed", "reason": "unknown_user"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %s", len(recs), len(want), buf.String())
	}
	for i, w := range want {
		delete(recs[i], "time")
		w["msg"] = "security event"
		if len(recs[i]) != len(w) {
			t.Errorf("record %d = %v, want %v", i, recs[i], w)
			continue
		}
		for k, v := range w {
			if recs[i][k] != v {
				t.Errorf("record %d: %s = %v, want %v", i, k, recs[i][k], v)
			}
		}
	}
}
