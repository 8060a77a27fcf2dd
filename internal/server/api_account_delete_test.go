package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/authn"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Deleting one's account: DELETE /api/v1/self (Mist's deleteSelf, with
// Portal's re-authentication in the body).

// Mist's deleteSelf has no body, so its only 400 is a refusal naming an
// organization (error_delete_failed, with org_id): the refusal and the
// success are compared with the Mist document; the 400s of the password
// and of bad input, which Mist does not have, with its plain error.

const (
	subjectAccountDeleted = "Your Portal account was deleted"
	deletePassword        = "correct horse 42"
)

// orgNamed returns the id of the caller's organization with the name.
func (e *apiEnv) orgNamed(c *http.Client, name string) string {
	e.t.Helper()
	for _, p := range e.self(c)["privileges"].([]any) {
		if m := p.(map[string]any); m["org_name"] == name {
			return m["org_id"].(string)
		}
	}
	e.t.Fatalf("no organization %q in /self", name)
	return ""
}

// addPrivilege gives the user with the address a role in the organization
// (straight into the store).
func addPrivilege(t *testing.T, st *testenv.Stack, email, orgID, role string) {
	t.Helper()
	addMember(t, st, email, orgID, st.Clock.Now())
	if role == portal.RoleRead {
		return
	}
	ctx := context.Background()
	u, err := st.DB.GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.DeleteOrgPrivileges(ctx, orgID, u.ID); err != nil {
			return err
		}
		return tx.CreatePrivilege(ctx, &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: orgID, Scope: portal.ScopeOrg, Role: role}, st.Clock.Now().UnixMilli())
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteAccountAPI: the refusal naming the organizations of which the
// caller is the only Super User, the password (and code) it asks for, no
// API token, and then the deletion: organizations of which the caller was
// the only member gone with their sites, memberships ended, the account's
// access gone, the confirmation mail, the audit entries kept under the
// caller's name, and the address free to sign up again.
func TestDeleteAccountAPI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ctx := context.Background()
		const ann, bob = "ann@example.com", "bob@example.com"
		annC := e.signUp(ann, deletePassword, "Ann Solo")
		bobC := e.signUp(bob, deletePassword, "Shared")
		solo, shared := e.orgNamed(annC, "Ann Solo"), e.orgNamed(bobC, "Shared")
		soloSite := e.createSite(annC, solo, "Solo HQ")
		addPrivilege(t, e.st, ann, shared, portal.RoleRead)
		r := e.do(annC, "POST", "/api/v1/orgs", map[string]any{"name": "Ann Team"})
		e.want(r, 200, "create Ann Team")
		team := r.JSON(t)["id"].(string)
		addPrivilege(t, e.st, bob, team, portal.RoleRead)
		_, key := e.tokenCreate(annC, "script")
		annID := e.userID(ann)
		annActor, err := e.st.Service.Authenticate(ctx, e.cookie(annC, "sessionid"), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.Service.Subscribe(ctx, annActor, shared, ""); err != nil {
			t.Fatal(err)
		}

		// Ann is the only Super User of Ann Team, where Bob is a member.
		r = e.do(annC, "DELETE", "/api/v1/self", map[string]any{"password": deletePassword})
		e.want(r, 400, "delete while the only Super User of Ann Team")
		e.spec.ValidateResponse(t, "DELETE", "/api/v1/self", 400, r.Body)
		if m := r.JSON(t); !strings.Contains(e.detail(r), `"Ann Team"`) || m["org_id"] != team || strings.Contains(e.detail(r), "Shared") {
			t.Errorf("refusal = %s, want a detail naming Ann Team (only) and its org_id", r.Body)
		}
		// Bob made Super User of Ann Team: the way out.
		addPrivilege(t, e.st, bob, team, portal.RoleAdmin)

		// Re-authentication: without a body, with a wrong password, with a token.
		r = e.do(annC, "DELETE", "/api/v1/self", nil)
		e.want(r, 403, "delete without the password")
		if m := r.JSON(t); m["reauthentication_required"] != true || m["two_factor_required"] != false {
			t.Errorf("without the password: %s, want reauthentication_required", r.Body)
		}
		r = e.do(annC, "DELETE", "/api/v1/self", map[string]any{"password": "not my password"})
		e.want(r, 400, "delete with a wrong password")
		r = e.tok(key, "DELETE", "/api/v1/self", map[string]any{"password": deletePassword})
		if r.Status != 403 || r.JSON(t)["session_required"] != true {
			t.Errorf("delete with an API token: %d %s, want 403 session_required", r.Status, r.Body)
		}
		r = e.do(annC, "DELETE", "/api/v1/self", `{"password": 5}`)
		e.want(r, 400, "delete with a bad body")
		if _, err := e.st.DB.GetUser(ctx, annID); err != nil {
			t.Fatalf("ann's account is gone after refusals: %v", err)
		}

		// The deletion.
		r = e.do(annC, "DELETE", "/api/v1/self", map[string]any{"password": deletePassword})
		e.want(r, 200, "delete the account")
		e.spec.ValidateResponse(t, "DELETE", "/api/v1/self", 200, r.Body)
		m := r.JSON(t)
		if fmt.Sprint(m["deleted_organizations"]) != "[Ann Solo]" || fmt.Sprint(m["left_organizations"]) != "[Ann Team Shared]" {
			t.Errorf("deletion answer = %s", r.Body)
		}
		// Access gone at once: the session, the token, the password.
		e.want(e.do(annC, "GET", "/api/v1/self", nil), 401, "the deleted user's session")
		if r := e.tok(key, "GET", "/api/v1/self", nil); r.Status != 401 {
			t.Errorf("the deleted user's API token: %d, want 401", r.Status)
		}
		_, r = e.login(ann, deletePassword)
		e.want(r, 400, "login of the deleted account")
		// Ann Solo and its site are gone; Shared and Ann Team keep Bob alone.
		if _, err := e.st.DB.GetOrg(ctx, solo); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("Ann Solo: %v, want not found", err)
		}
		if _, err := e.st.DB.GetSite(ctx, soloSite); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("Ann Solo's site: %v, want not found", err)
		}
		if subs, err := e.st.DB.ListSubscriptions(ctx, annID); err != nil || len(subs) != 0 {
			t.Errorf("ann's subscriptions after the deletion: %v %v, want none", subs, err)
		}
		for _, org := range []string{shared, team} {
			members, err := e.st.DB.ListOrgMembers(ctx, org)
			if err != nil || len(members) != 1 || members[0].Email != bob {
				t.Errorf("members of %s after the deletion: %v %v, want Bob only", org, members, err)
			}
		}
		// The audit entries of Ann's activity stay, under her name, until
		// the purge 30 days later.
		entries, _, err := e.st.DB.ListAudit(ctx, store.AuditQuery{AdminID: annID, End: e.st.Clock.Now().Add(time.Second), Page: portal.Page{Limit: 100, Page: 1}})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, en := range entries {
			msgs = append(msgs, en.Message)
			if en.AdminName != "Test User" {
				t.Errorf("entry %q kept the name %q, want Test User", en.Message, en.AdminName)
			}
		}
		if !slices.Contains(msgs, "Deleted account") || !slices.Contains(msgs, "Created site Solo HQ") {
			t.Errorf("ann's audit entries after the deletion: %q", msgs)
		}
		del, err := e.st.DB.GetDeletedUser(ctx, annID)
		if err != nil || del.PurgeAt.Sub(del.Deleted) != 30*24*time.Hour {
			t.Errorf("deletion record: %+v %v, want a purge 30 days after", del, err)
		}
		// The confirmation mail names the deleted organization.
		mail := e.waitMail(ann, subjectAccountDeleted, 1)
		if !strings.Contains(mail.Text, "Ann Solo") || !strings.Contains(mail.Text, "30 days") {
			t.Errorf("confirmation mail:\n%s", mail.Text)
		}
		// The address can sign up again: a new account.
		e.want(e.register(e.st.Client(), ann, "another horse 43", nil), 200, "sign up again")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+e.verifyToken(ann, 2), nil), 200, "verify the new account")
		again, r := e.login(ann, "another horse 43")
		e.want(r, 200, "login to the new account")
		if id := e.self(again)["admin_id"]; id == annID {
			t.Errorf("the new account has the deleted account's id")
		}
	})
}

// TestDeleteAccountAPITwoFactor: with two-factor authentication on, the
// deletion asks for a code too.
func TestDeleteAccountAPITwoFactor(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const ann = "ann@example.com"
		c := e.signUp(ann, twoFactorTestPassword, "")
		secret, _ := e.activate(c)
		e.st.Clock.Advance(30 * time.Second)
		r := e.do(c, "DELETE", "/api/v1/self", map[string]any{"password": twoFactorTestPassword})
		e.want(r, 403, "delete without the code")
		if m := r.JSON(t); m["reauthentication_required"] != true || m["two_factor_required"] != true {
			t.Errorf("without the code: %s", r.Body)
		}
		r = e.do(c, "DELETE", "/api/v1/self", map[string]any{"password": twoFactorTestPassword, "two_factor": wrongCode(e.code(secret, 0))})
		e.want(r, 400, "delete with a wrong code")
		r = e.do(c, "DELETE", "/api/v1/self", map[string]any{"password": twoFactorTestPassword, "two_factor": e.code(secret, 0)})
		e.want(r, 200, "delete with password and code")
		e.want(e.do(c, "GET", "/api/v1/self", nil), 401, "the deleted user's session")
	})
}

// TestDeletedUserAccessGone: on the request after the deletion, every way
// in that the account had stops: its sessions (in every browser), its API
// tokens, a pending e-mail change link, a password recovery link, a linked
// Google sign-in, and an invitation mailed to the address (withdrawn).
func TestDeletedUserAccessGone(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ctx := context.Background()
		const ann, bob = "ann@example.com", "bob@example.com"
		annC := e.signUp(ann, deletePassword, "")
		other, r := e.login(ann, deletePassword) // a second browser
		e.want(r, 200, "second login")
		_, key := e.tokenCreate(annC, "script")
		// Links mailed before the deletion: an e-mail change, a recovery.
		e.want(e.do(annC, "POST", "/api/v1/self/update", map[string]any{"email": "ann.new@example.com", "password": deletePassword}), 200, "email change")
		change := e.changeToken("ann.new@example.com", 1)
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": ann}), 200, "recover")
		recovery := e.recoverToken(ann, 1)
		// Bob invites Ann's address to Acme.
		bobC := e.signUp(bob, deletePassword, "Acme")
		acme := e.firstOrg(bobC)
		inv := e.invite(bobC, acme, ann, []map[string]any{{"scope": "org", "role": "read"}})
		invToken := e.inviteToken(ann, 1)

		// A linked Google sign-in.
		annID := e.userID(ann)
		if err := e.st.DB.Write(ctx, func(tx *store.Tx) error {
			return tx.CreateIdentityLink(ctx, &store.IdentityLink{ID: uuid.NewString(), UserID: annID, Provider: "google", Subject: "ann-sub", Email: ann, Created: e.st.Clock.Now()})
		}); err != nil {
			t.Fatal(err)
		}

		e.want(e.do(annC, "DELETE", "/api/v1/self", map[string]any{"password": deletePassword}), 200, "delete")
		if _, err := e.st.DB.GetIdentityLink(ctx, "google", "ann-sub"); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("the linked Google sign-in after the deletion: %v, want not found", err)
		}

		for name, c := range map[string]*http.Client{"the deleting browser": annC, "another browser": other} {
			if r := e.do(c, "GET", "/api/v1/self", nil); r.Status != 401 {
				t.Errorf("%s after the deletion: %d, want 401", name, r.Status)
			}
		}
		if r := e.tok(key, "GET", "/api/v1/self", nil); r.Status != 401 {
			t.Errorf("API token after the deletion: %d, want 401", r.Status)
		}
		if _, err := e.st.DB.GetEmailToken(ctx, authn.HashToken(change), "email_change"); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("the email change link after the deletion: %v, want not found", err)
		}
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover/verify/"+recovery, map[string]any{"password": "a new passphrase 9"}), 404, "the recovery link after the deletion")
		// The invitation is withdrawn: its link no longer works, and Bob's
		// list no longer shows it open.
		e.want(e.do(e.st.Client(), "POST", "/api/v1/invite/decline/"+invToken, nil), 404, "the invitation link after the deletion")
		if row := e.adminRow(bobC, acme, ann); row != nil {
			t.Errorf("Acme still lists the invitation %v of the deleted address: %v", inv["id"], row)
		}
	})
}
