package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestGetSessionUserByTokenHash: the joined reads of a session and of an
// API token with their user and two-factor enrolment give what the reads
// each replaces give, and nothing for an unknown or deleted session or
// token.
func TestGetSessionUserByTokenHash(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		now := time.UnixMilli(time.Now().UnixMilli()).UTC()
		u := &portal.User{ID: uuid.NewString(), Email: "join@example.com", FirstName: "Ann", LastName: "Smith", PasswordHash: "h",
			EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now, Timezone: "Europe/Paris"}
		s := &portal.Session{ID: uuid.NewString(), TokenHash: uuid.NewString(), UserID: u.ID, CSRFToken: "c", CreatedTime: now,
			LastSeenTime: now, ExpiresTime: now.Add(time.Hour), AuthTime: now, TwoFactorPassed: true, IP: "192.0.2.1", UserAgent: "test/1.0"}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			return tx.CreateSession(ctx, s)
		}); err != nil {
			t.Fatal(err)
		}
		gotS, gotU, gotE, err := db.GetSessionUserByTokenHash(ctx, s.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		wantS, err := db.GetSessionByTokenHash(ctx, s.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		wantU, err := db.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotS, wantS) {
			t.Errorf("session = %+v\nwant %+v", gotS, wantS)
		}
		if !reflect.DeepEqual(gotU, wantU) {
			t.Errorf("user = %+v\nwant %+v", gotU, wantU)
		}
		if gotE != (store.Enrolment{}) {
			t.Errorf("enrolment = %+v without a second factor", gotE)
		}
		// The enrolment as it changes: started, then verified.
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, u.ID, "sealed", now) }); err != nil {
			t.Fatal(err)
		}
		if _, _, e, err := db.GetSessionUserByTokenHash(ctx, s.TokenHash); err != nil || e != (store.Enrolment{Enrolled: true}) {
			t.Errorf("enrolment started: %+v, %v", e, err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, u.ID, "sealed", 1, now) }); err != nil {
			t.Fatal(err)
		}
		if _, _, e, err := db.GetSessionUserByTokenHash(ctx, s.TokenHash); err != nil || e != (store.Enrolment{Enrolled: true, Verified: true}) {
			t.Errorf("enrolment verified: %+v, %v", e, err)
		}
		if _, _, _, err := db.GetSessionUserByTokenHash(ctx, "unknown"); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("unknown token: %v, want not found", err)
		}
		tok := &store.APIToken{ID: uuid.NewString(), UserID: u.ID, Name: "t", KeyHash: uuid.NewString(), Created: now}
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateAPIToken(ctx, tok) }); err != nil {
			t.Fatal(err)
		}
		gotT, gotU, gotE, err := db.GetAPITokenUserByKeyHash(ctx, tok.KeyHash)
		if err != nil {
			t.Fatal(err)
		}
		wantT, err := db.GetAPITokenByKeyHash(ctx, tok.KeyHash)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotT, wantT) || !reflect.DeepEqual(gotU, wantU) || gotE != (store.Enrolment{Enrolled: true, Verified: true}) {
			t.Errorf("token, user, enrolment = %+v, %+v, %+v\nwant %+v, %+v, verified", gotT, gotU, gotE, wantT, wantU)
		}
		if _, _, _, err := db.GetAPITokenUserByKeyHash(ctx, "unknown"); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("unknown key: %v, want not found", err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteAPIToken(ctx, u.ID, tok.ID) }); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := db.GetAPITokenUserByKeyHash(ctx, tok.KeyHash); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("deleted token: %v, want not found", err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, s.ID) }); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := db.GetSessionUserByTokenHash(ctx, s.TokenHash); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("deleted session: %v, want not found", err)
		}
	})
}
