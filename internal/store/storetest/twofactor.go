package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

// testTwoFactor runs the contract tests of two-factor authentication
// (store/twofactor.go) on one database: they use their own users and
// organizations.
func testTwoFactor(t *testing.T, db *store.DB) {
	for _, tc := range twoFactorTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, db) })
	}
}

var twoFactorTests = []struct {
	name string
	fn   func(t *testing.T, db *store.DB)
}{
	{"Enrolment", testTwoFactorEnrolment},
	{"Steps", testTwoFactorSteps},
	{"StepConcurrent", testTwoFactorStepConcurrent},
	{"RecoveryCodes", testRecoveryCodes},
	{"DeleteSince", testTwoFactorDeleteSince},
	{"RecoveryConcurrent", testRecoveryCodeConcurrent},
	{"OrgRequirement", testTwoFactorRequirement},
}

// mkTwoFactor enrols u with a secret and, when verified, activates it at
// step 100.
func mkTwoFactor(t *testing.T, db *store.DB, u *portal.User, secret string, verified bool) {
	t.Helper()
	ctx := context.Background()
	write(t, db, func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, u.ID, secret, t0) })
	if verified {
		write(t, db, func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, u.ID, secret, 100, t0.Add(time.Minute)) })
	}
}

func testTwoFactorEnrolment(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "enrol@example.com")
	if _, err := db.GetTwoFactor(ctx, u.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("no enrolment: %v", err)
	}
	write(t, db, func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, u.ID, "sealed-1", t0) })
	tf, err := db.GetTwoFactor(ctx, u.ID)
	if err != nil || tf.Secret != "sealed-1" || tf.Verified || tf.LastStep != 0 || !tf.Created.Equal(t0) || !tf.VerifiedAt.IsZero() {
		t.Fatalf("after StartTwoFactor: %+v, %v", tf, err)
	}
	// A new start replaces an unverified secret.
	write(t, db, func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, u.ID, "sealed-2", t0.Add(time.Second)) })
	if tf, _ := db.GetTwoFactor(ctx, u.ID); tf.Secret != "sealed-2" || !tf.Created.Equal(t0.Add(time.Second)) {
		t.Fatalf("restart: %+v", tf)
	}
	// Activation needs the secret the code was checked against.
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, u.ID, "sealed-1", 50, t0) })
	if !errors.Is(err, store.ErrCodeUsed) {
		t.Fatalf("activating with a replaced secret: %v, want ErrCodeUsed", err)
	}
	write(t, db, func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, u.ID, "sealed-2", 50, t0.Add(time.Minute)) })
	tf, _ = db.GetTwoFactor(ctx, u.ID)
	if !tf.Verified || tf.LastStep != 50 || !tf.VerifiedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after activation: %+v", tf)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, u.ID, "sealed-2", 51, t0) })
	if !errors.Is(err, store.ErrCodeUsed) {
		t.Fatalf("activating twice: %v, want ErrCodeUsed", err)
	}
	// A verified enrolment is not replaced by a new start.
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, u.ID, "sealed-3", t0) })
	if !errors.Is(err, store.ErrTwoFactorActive) {
		t.Fatalf("start over an active enrolment: %v, want ErrTwoFactorActive", err)
	}
	if tf, _ := db.GetTwoFactor(ctx, u.ID); tf.Secret != "sealed-2" || !tf.Verified {
		t.Fatalf("a refused start changed the enrolment: %+v", tf)
	}
	// Deleting removes the enrolment and the recovery codes.
	write(t, db, func(tx *store.Tx) error {
		return tx.ReplaceRecoveryCodes(ctx, u.ID, []string{newID()}, []string{"h1"}, t0)
	})
	var existed bool
	write(t, db, func(tx *store.Tx) (err error) { existed, err = tx.DeleteTwoFactor(ctx, u.ID); return err })
	if !existed {
		t.Error("DeleteTwoFactor reported no enrolment")
	}
	if _, err := db.GetTwoFactor(ctx, u.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("after delete: %v", err)
	}
	if st, err := db.RecoveryCodes(ctx, u.ID); err != nil || st.Total != 0 {
		t.Errorf("recovery codes after delete: %+v %v", st, err)
	}
	write(t, db, func(tx *store.Tx) (err error) { existed, err = tx.DeleteTwoFactor(ctx, u.ID); return err })
	if existed {
		t.Error("second DeleteTwoFactor reported an enrolment")
	}

	// The session flag.
	s := mkSession(t, db, u.ID, t0.Add(time.Hour))
	write(t, db, func(tx *store.Tx) error { return tx.PassSessionTwoFactor(ctx, s.ID) })
	if got, err := db.GetSessionByTokenHash(ctx, s.TokenHash); err != nil || !got.TwoFactorPassed {
		t.Errorf("session after PassSessionTwoFactor: %+v %v", got, err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.PassSessionTwoFactor(ctx, newID()) })
	wantCode(t, "PassSessionTwoFactor of an unknown session", err, portal.ENOTFOUND)
}

func testTwoFactorSteps(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "steps@example.com")
	use := func(step int64) error {
		return db.Write(ctx, func(tx *store.Tx) error { return tx.UseTOTPStep(ctx, u.ID, step) })
	}
	if err := use(200); !errors.Is(err, store.ErrCodeUsed) {
		t.Fatalf("step without enrolment: %v, want ErrCodeUsed", err)
	}
	mkTwoFactor(t, db, u, "s", false)
	if err := use(200); !errors.Is(err, store.ErrCodeUsed) {
		t.Fatalf("step of an unverified enrolment: %v, want ErrCodeUsed", err)
	}
	write(t, db, func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, u.ID, "s", 100, t0) })
	for _, c := range []struct {
		step int64
		ok   bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}, {104, true}} {
		err := use(c.step)
		if c.ok && err != nil || !c.ok && !errors.Is(err, store.ErrCodeUsed) {
			t.Errorf("UseTOTPStep(%d) = %v, want ok=%v", c.step, err, c.ok)
		}
	}
	if tf, _ := db.GetTwoFactor(ctx, u.ID); tf.LastStep != 104 {
		t.Errorf("last step %d, want 104", tf.LastStep)
	}
}

func testTwoFactorStepConcurrent(t *testing.T, db *store.DB) {
	u := mkUser(t, db, "race2fa@example.com")
	mkTwoFactor(t, db, u, "s", true)
	exactlyOneWins(t, db, 8, store.ErrCodeUsed, "uses of one step", func(ctx context.Context, tx *store.Tx) error {
		return tx.UseTOTPStep(ctx, u.ID, 500)
	})
}

func testRecoveryCodes(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u, other := mkUser(t, db, "codes@example.com"), mkUser(t, db, "other-codes@example.com")
	mkTwoFactor(t, db, u, "s", true)
	set := func(userID string, hashes ...string) {
		ids := make([]string, len(hashes))
		for i := range ids {
			ids[i] = newID()
		}
		write(t, db, func(tx *store.Tx) error { return tx.ReplaceRecoveryCodes(ctx, userID, ids, hashes, t0) })
	}
	set(u.ID, "a", "b", "c")
	set(other.ID, "a")
	if st, err := db.RecoveryCodes(ctx, u.ID); err != nil || st.Total != 3 || st.Remaining != 3 || !st.Created.Equal(t0) {
		t.Fatalf("counts: %+v %v", st, err)
	}
	use := func(userID, hash string) error {
		return db.Write(ctx, func(tx *store.Tx) error { return tx.UseRecoveryCode(ctx, userID, hash, t0.Add(time.Hour)) })
	}
	if err := use(u.ID, "b"); err != nil {
		t.Fatal(err)
	}
	if err := use(u.ID, "b"); !errors.Is(err, store.ErrCodeUsed) {
		t.Errorf("second use: %v, want ErrCodeUsed", err)
	}
	wantCode(t, "unknown code", use(u.ID, "zzz"), portal.ENOTFOUND)
	if used, err := db.RecoveryCodeUsed(ctx, u.ID, "b"); err != nil || !used {
		t.Errorf("RecoveryCodeUsed(b) = %v %v", used, err)
	}
	if used, err := db.RecoveryCodeUsed(ctx, u.ID, "a"); err != nil || used {
		t.Errorf("RecoveryCodeUsed(a) = %v %v", used, err)
	}
	_, err := db.RecoveryCodeUsed(ctx, u.ID, "zzz")
	wantCode(t, "RecoveryCodeUsed of an unknown code", err, portal.ENOTFOUND)
	if st, _ := db.RecoveryCodes(ctx, u.ID); st.Remaining != 2 || st.Total != 3 {
		t.Errorf("after one use: %+v", st)
	}
	// The other user's equal hash is untouched and separate.
	if st, _ := db.RecoveryCodes(ctx, other.ID); st.Remaining != 1 {
		t.Errorf("other user's codes: %+v", st)
	}
	// A new set voids the old one.
	set(u.ID, "d", "e")
	wantCode(t, "old code after a new set", use(u.ID, "a"), portal.ENOTFOUND)
	if st, _ := db.RecoveryCodes(ctx, u.ID); st.Remaining != 2 || st.Total != 2 {
		t.Errorf("new set: %+v", st)
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.ReplaceRecoveryCodes(ctx, u.ID, []string{newID()}, []string{"x", "y"}, t0)
	})
	if err == nil {
		t.Error("ReplaceRecoveryCodes with mismatched ids and hashes succeeded")
	}
}

func testRecoveryCodeConcurrent(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "race-codes@example.com")
	mkTwoFactor(t, db, u, "s", true)
	write(t, db, func(tx *store.Tx) error {
		return tx.ReplaceRecoveryCodes(ctx, u.ID, []string{newID()}, []string{"only"}, t0)
	})
	exactlyOneWins(t, db, 8, store.ErrCodeUsed, "uses of one recovery code", func(ctx context.Context, tx *store.Tx) error {
		return tx.UseRecoveryCode(ctx, u.ID, "only", t0)
	})
}

// testTwoFactorDeleteSince: only what was set up at or after the time goes.
func testTwoFactorDeleteSince(t *testing.T, db *store.DB) {
	ctx := context.Background()
	deleteSince := func(u *portal.User, since time.Time) (factor bool, codes int64) {
		t.Helper()
		write(t, db, func(tx *store.Tx) (err error) {
			factor, codes, err = tx.DeleteTwoFactorSince(ctx, u.ID, since)
			return err
		})
		return factor, codes
	}
	codes := func(u *portal.User, at time.Time, n int) {
		t.Helper()
		ids, hashes := make([]string, n), make([]string, n)
		for i := range ids {
			ids[i], hashes[i] = newID(), fmt.Sprintf("h%d-%s", i, newID())
		}
		write(t, db, func(tx *store.Tx) error { return tx.ReplaceRecoveryCodes(ctx, u.ID, ids, hashes, at) })
	}

	// Set up before: the factor and its codes stay.
	before := mkUser(t, db, "since-before@example.com")
	mkTwoFactor(t, db, before, "s1", true) // started at t0
	codes(before, t0, 3)
	if f, n := deleteSince(before, t0.Add(time.Second)); f || n != 0 {
		t.Errorf("a factor set up before: removed factor=%v codes=%d, want neither", f, n)
	}
	if tf, err := db.GetTwoFactor(ctx, before.ID); err != nil || !tf.Verified {
		t.Errorf("the earlier factor is gone: %+v %v", tf, err)
	}
	// Codes made later than since go; the factor stays.
	codes(before, t0.Add(time.Hour), 4)
	if f, n := deleteSince(before, t0.Add(time.Second)); f || n != 4 {
		t.Errorf("later codes: removed factor=%v codes=%d, want codes only (4)", f, n)
	}
	if st, _ := db.RecoveryCodes(ctx, before.ID); st.Total != 0 {
		t.Errorf("later codes still there: %+v", st)
	}
	if _, err := db.GetTwoFactor(ctx, before.ID); err != nil {
		t.Errorf("the earlier factor went with the later codes: %v", err)
	}

	// Set up at or after since: the factor and every code go.
	after := mkUser(t, db, "since-after@example.com")
	mkTwoFactor(t, db, after, "s2", true) // started at t0
	codes(after, t0.Add(time.Minute), 2)
	if f, n := deleteSince(after, t0); !f || n != 2 {
		t.Errorf("a factor set up at since: removed factor=%v codes=%d, want both (2)", f, n)
	}
	if _, err := db.GetTwoFactor(ctx, after.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("the later factor stays: %v", err)
	}
	// Nothing to remove.
	if f, n := deleteSince(after, t0); f || n != 0 {
		t.Errorf("nothing left: removed factor=%v codes=%d", f, n)
	}
}
