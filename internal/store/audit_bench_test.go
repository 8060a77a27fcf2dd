package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// BenchmarkInsertAudit: one audit entry written in a transaction of its
// own, on each database (every change writes one in its transaction).
//
//	go test ./internal/store -run '^$' -bench InsertAudit -benchmem
func BenchmarkInsertAudit(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			db := testenv.OpenDB(b, d)
			ctx := context.Background()
			admin := uuid.NewString()
			for b.Loop() {
				e := &portal.AuditEntry{ID: uuid.NewString(), Timestamp: time.Now(), AdminID: admin, AdminName: "Bench User",
					OrgID: portal.NilID, SiteID: portal.NilID, Message: "Account updated",
					Before: map[string]any{"first_name": "Ann"}, After: map[string]any{"first_name": "Bench"}, SrcIP: "192.0.2.1"}
				if err := db.Write(ctx, func(tx *store.Tx) error { return tx.InsertAudit(ctx, e) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
