package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func mkAudit(t *testing.T, db *store.DB, admin, org string, ts time.Time, msg string) *portal.AuditEntry {
	t.Helper()
	e := &portal.AuditEntry{ID: newID(), Timestamp: ts, AdminID: admin, AdminName: "Admin " + admin[:4], OrgID: org, SiteID: portal.NilID,
		Message: msg, SrcIP: "198.51.100.7"}
	write(t, db, func(tx *store.Tx) error { return tx.InsertAudit(context.Background(), e) })
	return e
}

func auditMessages(es []*portal.AuditEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Message)
	}
	return out
}

func testAudit(t *testing.T, db *store.DB) {
	ctx := context.Background()
	adminA, adminB, org := newID(), newID(), newID()
	for i := range 5 {
		mkAudit(t, db, adminA, org, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("a-org-%d", i))
	}
	mkAudit(t, db, adminB, org, t0.Add(5*time.Second), "b-org-5")
	mkAudit(t, db, adminA, portal.NilID, t0.Add(6*time.Second), "a-nil-6")
	mkAudit(t, db, adminA, org, t0.Add(-time.Second), "before-range")

	list := func(q store.AuditQuery) ([]string, int) {
		t.Helper()
		if q.Start.IsZero() {
			q.Start = t0
		}
		if q.End.IsZero() {
			q.End = t0.Add(time.Minute)
		}
		if q.Page.Limit == 0 {
			q.Page = portal.Page{Limit: 100, Page: 1}
		}
		es, total, err := db.ListAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return auditMessages(es), total
	}
	check := func(what string, q store.AuditQuery, want []string, wantTotal int) {
		t.Helper()
		got, total := list(q)
		if !reflect.DeepEqual(got, want) || total != wantTotal {
			t.Errorf("%s: %v (total %d), want %v (total %d)", what, got, total, want, wantTotal)
		}
	}
	check("admin A, newest first", store.AuditQuery{AdminID: adminA},
		[]string{"a-nil-6", "a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 6)
	check("organization", store.AuditQuery{OrgID: org},
		[]string{"b-org-5", "a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 6)
	check("admin A in the organization", store.AuditQuery{AdminID: adminA, OrgID: org},
		[]string{"a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 5)
	check("admin B", store.AuditQuery{AdminID: adminB}, []string{"b-org-5"}, 1)
	check("no filter", store.AuditQuery{}, []string{"a-nil-6", "b-org-5", "a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 7)
	check("[start, end) includes start, excludes end", store.AuditQuery{AdminID: adminA, Start: t0.Add(time.Second), End: t0.Add(3 * time.Second)},
		[]string{"a-org-2", "a-org-1"}, 2)
	check("paging", store.AuditQuery{AdminID: adminA, Page: portal.Page{Limit: 4, Page: 2}}, []string{"a-org-1", "a-org-0"}, 6)
	check("past the last page", store.AuditQuery{AdminID: adminA, Page: portal.Page{Limit: 4, Page: 3}}, nil, 6)
	check("unknown admin", store.AuditQuery{AdminID: newID()}, nil, 0)
}

func testAuditJSON(t *testing.T, db *store.DB) {
	ctx := context.Background()
	e := &portal.AuditEntry{ID: newID(), Timestamp: t0.Add(1234 * time.Millisecond), AdminID: newID(), AdminName: "Zoë O'Brien",
		OrgID: newID(), SiteID: newID(), Message: `Updated "site" <hq>`, SrcIP: "2001:db8::1",
		Before: map[string]any{"name": "old", "session_expiry": float64(1440), "enabled": false, "tags": []any{"a", "b"}, "none": nil},
		After:  map[string]any{"name": "new ✓", "nested": map[string]any{"k": "v"}}}
	f := &portal.AuditEntry{ID: newID(), Timestamp: t0, AdminID: e.AdminID, AdminName: "x", OrgID: portal.NilID, SiteID: portal.NilID, Message: "no details"}
	write(t, db, func(tx *store.Tx) error {
		if err := tx.InsertAudit(ctx, e); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, f)
	})
	got, total, err := db.ListAudit(ctx, store.AuditQuery{AdminID: e.AdminID, Start: t0, End: t0.Add(time.Hour), Page: portal.Page{Limit: 10, Page: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(got) != 2 {
		t.Fatalf("ListAudit: %d entries (total %d), want 2", len(got), total)
	}
	if !reflect.DeepEqual(got[0], e) {
		t.Errorf("entry with details = %+v\nwant %+v", got[0], e)
	}
	if !reflect.DeepEqual(got[1], f) {
		t.Errorf("entry without details = %+v\nwant %+v", got[1], f)
	}
}
