package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestPurgeCommand: `portal purge` runs the retention purge now and says
// what it removed: audit entries past the retention go, recent ones stay.
func TestPurgeCommand(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		o := newOperatorSetup(t, d)
		ctx := context.Background()
		now := time.Now()
		err := o.db.Write(ctx, func(tx *store.Tx) error {
			for i, at := range []time.Time{now.Add(-400 * 24 * time.Hour), now.Add(-366 * 24 * time.Hour), now.Add(-time.Hour)} {
				if err := tx.InsertAudit(ctx, &portal.AuditEntry{ID: uuid.NewString(), Timestamp: at, AdminID: o.user.ID, AdminName: "Ann Lee",
					OrgID: portal.NilID, SiteID: portal.NilID, Message: "Logged in " + string(rune('a'+i))}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err, out, stderr := runCmd(t, []string{"purge"}, o.vars)
		if err != nil {
			t.Fatalf("purge: %v\n%s", err, stderr)
		}
		if !strings.HasPrefix(out, "purged ") || !strings.Contains(out, "2 other audit entries") {
			t.Errorf("purge said %q, want it to report the 2 old entries", out)
		}
		left, n, err := o.db.ListAudit(ctx, store.AuditQuery{AdminID: o.user.ID, Start: now.Add(-500 * 24 * time.Hour), End: now.Add(time.Hour), Page: portal.Page{Limit: 10, Page: 1}})
		if err != nil || n != 1 || left[0].Message != "Logged in c" {
			t.Errorf("after the purge: %d entries %v, want the recent one", n, err)
		}
	})
}
