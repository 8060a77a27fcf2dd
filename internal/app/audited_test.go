package app_test

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Every state change writes exactly one audit entry. The table below has a
// row for every exported method of *app.Service (found by reflection, so a
// new method without a row fails the test): a method that changes state is
// run, and must add exactly one entry; the others say why they write none.

// auditWorld is the state the operations run in: one stack, and actors
// made as needed.
type auditWorld struct {
	t     *testing.T
	st    *testenv.Stack
	ctx   context.Context
	owner *app.Actor // Super User of Acme
	org   string     // Acme
	site  string     // a site of Acme
	vals  map[string]string
	tmp   *app.Actor // an actor the setup of a row logged in
}

const auditPW = "audited horse 12"

// login opens a session for the address and returns its actor (the
// login's own entry is written before the operation under test is counted).
func (w *auditWorld) login(email string) *app.Actor {
	w.t.Helper()
	res, err := w.st.Service.Login(w.ctx, email, auditPW, app.Client{IP: "192.0.2.9", UserAgent: "audit test"})
	if err != nil {
		w.t.Fatalf("login %s: %v", email, err)
	}
	a, err := w.st.Service.Authenticate(w.ctx, res.Token, "192.0.2.9")
	if err != nil {
		w.t.Fatalf("authenticate %s: %v", email, err)
	}
	return a
}

// loginWith is login with another password.
func (w *auditWorld) loginWith(email, password string) *app.Actor {
	w.t.Helper()
	res, err := w.st.Service.Login(w.ctx, email, password, app.Client{IP: "192.0.2.9"})
	if err != nil {
		w.t.Fatalf("login %s: %v", email, err)
	}
	a, err := w.st.Service.Authenticate(w.ctx, res.Token, "192.0.2.9")
	if err != nil {
		w.t.Fatalf("authenticate %s: %v", email, err)
	}
	return a
}

// signUp makes a verified account through the service.
func (w *auditWorld) signUp(email, org string) {
	w.t.Helper()
	if err := w.st.Service.Register(w.ctx, app.RegisterInput{Email: email, FirstName: "Olive", LastName: "Ramos", Password: auditPW, OrgName: org}, app.Client{IP: "192.0.2.9"}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.st.Service.VerifyRegistration(w.ctx, w.link(email, "/verify/register?token=", 1), app.Client{IP: "192.0.2.9"}); err != nil {
		w.t.Fatal(err)
	}
}

// link is the token of the n-th mail to addr (from 1, in the order they
// arrive) with a link that starts with prefix.
func (w *auditWorld) link(addr, prefix string, n int) string {
	w.t.Helper()
	seen := 0
	m := w.st.SMTP.WaitFor(w.t, func(m smtptest.Message) bool {
		if !smtptest.To(addr)(m) || smtptest.FindLink(m.Text, w.st.URL+prefix) == "" {
			return false
		}
		seen++
		return seen == n
	}, 10*time.Second)
	u, err := url.Parse(smtptest.FindLink(m.Text, w.st.URL+prefix))
	if err != nil {
		w.t.Fatal(err)
	}
	return u.Query().Get("token")
}

func (w *auditWorld) count() int {
	w.t.Helper()
	_, n, err := w.st.DB.ListAudit(w.ctx, store.AuditQuery{End: w.st.Clock.Now().Add(time.Hour), Page: portal.Page{Limit: 1, Page: 1}})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *auditWorld) code(secret string) string {
	w.t.Helper()
	w.st.Clock.Advance(30 * time.Second) // a fresh step: a code is used once
	c, err := authn.TOTPCode(secret, w.st.Clock.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// auditRow is one method of the service.
type auditRow struct {
	// why a method writes no entry (it changes nothing, or nothing of the
	// accounts and organizations); "" for a change, which run performs.
	why string
	// want is how many entries the change writes when not exactly one,
	// with the reason in a comment: each is a change of its own.
	want  int
	setup func(w *auditWorld)
	run   func(w *auditWorld) error
}

func ptrOf[T any](v T) *T { return &v }

func auditRows() (names []string, rows map[string]auditRow) {
	read := auditRow{why: "reads only"}
	rows = map[string]auditRow{
		"AuditRetention": read, "CheckEmailChange": read, "CheckRegistration": read, "CheckEmailRevert": read, "CheckInvite": read, "MyInvites": read, "GetAPIToken": read,
		"GetAdmin": read, "GetOrg": read, "GetOrgSetting": read, "GetSelf": read, "GetSite": read, "ListAPITokens": read,
		"ListAdmins": read, "ListSessions": read, "ListSites": read, "LoadTwoFactor": read, "Now": read, "OrgLogs": read,
		"OrgLogsEach": read, "PasswordPolicyFor": read, "PendingEmailChange": read, "Permissions": read,
		"PreviewAccountDeletion": read, "RecoveryCodes": read, "RecoveryLink": read, "RecoveryLinkTwoFactor": read,
		"SelfLoginFailures": read, "ExportPersonalData": read, "SelfLogs": read, "SessionPrivileged": read, "TwoFactorQRCode": read, "TwoFactorSecret": read,
		"GoogleAuthOrigin": read, "GoogleEnabled": read, "GoogleFlow": read, "GoogleLinkOf": read, "AuthCacheEntries": read,
		"Register":           {why: "a sign-up waiting for its link: no account yet (VerifyRegistration writes its first entry)"},
		"ResendVerification": {why: "a sign-up waiting for its link: no account yet (VerifyRegistration writes its first entry)"},
		"Authenticate":       {why: "authenticates a request (its session's sliding expiry is bookkeeping)"},
		"AuthenticateToken":  {why: "authenticates a request (the token's last use is bookkeeping)"},
		"Cleanup":            {why: "housekeeping: expired sessions, spent links, old counters"},
		"RunCleanup":         {why: "housekeeping: runs Cleanup and PurgeRetention"},
		"PurgeRetention":     {why: "housekeeping: deletes what retention no longer keeps"},
		"StartGoogleLogin":   {why: "starts a sign-in with the provider; the sign-in is audited (GoogleLogin)"},
		"StartGoogleLink":    {why: "starts a link with the provider; the link is audited (FinishGoogleLink)"},
		"FinishGoogleLink":   {why: "audited once ('Linked Google sign-in'): needs the provider, run by TestGoogleLinkSignInUnlinkAPI"},
		"GoogleLogin":        {why: "audited once ('Logged in'): needs the provider, run by TestGoogleLinkSignInUnlinkAPI"},
		"UnlinkGoogle":       {why: "audited once ('Unlinked Google sign-in'): needs a link made with the provider, run by TestGoogleLinkSignInUnlinkAPI"},
	}
	// The survey (survey.go) and the operators who read its results.
	rows["SurveyStatus"], rows["SurveyLink"], rows["SurveyResults"], rows["SurveyAnswersEach"], rows["IsOperator"], rows["ListOperators"] = read, read, read, read, read, read
	rows["SurveyPrompt"] = auditRow{why: "bookkeeping: which session showed the survey's prompt"}
	rows["SnoozeSurvey"] = auditRow{why: "a choice about the survey's prompt, not a change of the account or an organization"}
	rows["StopSurvey"] = auditRow{why: "a choice about the survey's prompt, not a change of the account or an organization"}
	rows["AnswerSurvey"] = auditRow{why: "answers are anonymous in the results: an audit entry would tie them to the user"}
	// The inventory (inventory.go, events.go).
	rows["ListDevices"], rows["ListEvents"] = read, read
	rows["IngestEvents"] = auditRow{why: "devices' reports are stored as events, not as changes of the organization"}
	rows["DetectSilentDevices"] = auditRow{why: "housekeeping: marks silent devices disconnected with a device_down event"}
	add := func(name string, r auditRow) {
		names = append(names, name)
		rows[name] = r
	}
	// The order matters: each row runs in the world the earlier ones left.
	add("VerifyRegistration", auditRow{setup: func(w *auditWorld) {
		if err := w.st.Service.Register(w.ctx, app.RegisterInput{Email: "new@example.com", FirstName: "N", LastName: "U", Password: auditPW}, app.Client{IP: "192.0.2.9"}); err != nil {
			w.t.Fatal(err)
		}
		w.vals["verify"] = w.link("new@example.com", "/verify/register?token=", 1)
	},
		run: func(w *auditWorld) error {
			_, err := w.st.Service.VerifyRegistration(w.ctx, w.vals["verify"], app.Client{IP: "192.0.2.9"})
			return err
		}})
	add("Login", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.Login(w.ctx, "owner@example.com", auditPW, app.Client{IP: "192.0.2.9"})
		return err
	}})
	add("LoginWithCode", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.LoginWithCode(w.ctx, "owner@example.com", auditPW, "", app.Client{IP: "192.0.2.9"})
		return err
	}})
	add("Logout", auditRow{setup: func(w *auditWorld) { w.tmp = w.login("new@example.com") }, run: func(w *auditWorld) error {
		return w.st.Service.Logout(w.ctx, w.tmp)
	}})
	add("CreateOrg", auditRow{run: func(w *auditWorld) error {
		o, err := w.st.Service.CreateOrg(w.ctx, w.owner, app.OrgInput{Name: ptrOf("Spare")})
		if err == nil {
			w.vals["spare"] = o.ID
		}
		return err
	}})
	add("UpdateOrg", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.UpdateOrg(w.ctx, w.owner, w.vals["spare"], app.OrgInput{Name: ptrOf("Spare 2")})
		return err
	}})
	add("DeleteOrg", auditRow{run: func(w *auditWorld) error { return w.st.Service.DeleteOrg(w.ctx, w.owner, w.vals["spare"]) }})
	add("CreateSite", auditRow{run: func(w *auditWorld) error {
		s, err := w.st.Service.CreateSite(w.ctx, w.owner, w.org, app.SiteInput{Name: ptrOf("Branch")})
		if err == nil {
			w.vals["branch"] = s.ID
		}
		return err
	}})
	add("UpdateSite", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.UpdateSite(w.ctx, w.owner, w.vals["branch"], app.SiteInput{Notes: ptrOf("rack 2")})
		return err
	}})
	add("DeleteSite", auditRow{run: func(w *auditWorld) error { return w.st.Service.DeleteSite(w.ctx, w.owner, w.vals["branch"]) }})
	add("UpdatePasswordPolicy", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.UpdatePasswordPolicy(w.ctx, w.owner, w.org, app.PolicyInput{HistoryCount: ptrOf(3)})
		return err
	}})
	add("SetAuditRetention", auditRow{run: func(w *auditWorld) error { return w.st.Service.SetAuditRetention(w.ctx, w.owner, w.org, 400) }})
	add("AddDevices", auditRow{setup: func(w *auditWorld) {
		site, err := w.st.Service.CreateSite(w.ctx, w.owner, w.org, app.SiteInput{Name: ptrOf("Store")})
		if err != nil {
			w.t.Fatal(err)
		}
		w.vals["store"] = site.ID
	}, run: func(w *auditWorld) error {
		res, err := w.st.Service.AddDevices(w.ctx, w.owner, w.org, []app.DeviceInput{{Serial: "AUD1", MAC: "02:00:00:00:00:01", Site: w.vals["store"]}, {Serial: "AUD2", MAC: "02:00:00:00:00:02"}})
		if err == nil {
			w.vals["device"] = res[0].Device.ID
		}
		return err
	}})
	add("AddDevicesCSV", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.AddDevicesCSV(w.ctx, w.owner, w.org, strings.NewReader("serial,mac\nAUD3,02:00:00:00:00:03\n"))
		return err
	}})
	add("AssignDevices", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.AssignDevices(w.ctx, w.owner, w.org, "assign", w.vals["store"], []string{"020000000002"})
		return err
	}})
	add("RenameDevice", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.RenameDevice(w.ctx, w.owner, w.org, w.vals["device"], "Lobby")
		return err
	}})
	add("RemoveDevice", auditRow{run: func(w *auditWorld) error { return w.st.Service.RemoveDevice(w.ctx, w.owner, w.org, w.vals["device"]) }})
	invite := func(email string) func(w *auditWorld) error {
		return func(w *auditWorld) error {
			ad, err := w.st.Service.Invite(w.ctx, w.owner, w.org, app.InviteInput{Email: email, FirstName: "In", LastName: "Vitee",
				Privileges: []app.PrivilegeInput{{Scope: portal.ScopeOrg, Role: portal.RoleRead}}})
			if err == nil {
				w.vals["invite "+email] = ad.InviteID
			}
			return err
		}
	}
	add("Invite", auditRow{run: invite("new@example.com")})
	add("UpdateInvite", auditRow{setup: func(w *auditWorld) {
		// The first invitation mail is delivered before the second is
		// made: the mail worker sends a batch with several senders at once,
		// so two mails of one batch may arrive in either order, and
		// AcceptInvite below takes the second to arrive for the newer.
		w.link("new@example.com", "/invite?token=", 1)
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.UpdateInvite(w.ctx, w.owner, w.org, w.vals["invite new@example.com"], app.InviteInput{
			Privileges: []app.PrivilegeInput{{Scope: portal.ScopeOrg, Role: portal.RoleWrite}}})
		return err
	}})
	add("AcceptInvite", auditRow{setup: func(w *auditWorld) {
		w.vals["accept"] = w.link("new@example.com", "/invite?token=", 2)
		w.tmp = w.login("new@example.com")
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.AcceptInvite(w.ctx, w.tmp, w.vals["accept"])
		return err
	}})
	add("UpdateAdmin", auditRow{setup: func(w *auditWorld) {
		u, err := w.st.DB.GetUserByEmail(w.ctx, "new@example.com")
		if err != nil {
			w.t.Fatal(err)
		}
		w.vals["new id"] = u.ID
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.UpdateAdmin(w.ctx, w.owner, w.org, w.vals["new id"], []app.PrivilegeInput{{Scope: portal.ScopeOrg, Role: portal.RoleRead}})
		return err
	}})
	add("RevokeAdmin", auditRow{run: func(w *auditWorld) error { return w.st.Service.RevokeAdmin(w.ctx, w.owner, w.org, w.vals["new id"]) }})
	add("DeclineMyInvite", auditRow{setup: func(w *auditWorld) {
		if err := invite("new@example.com")(w); err != nil {
			w.t.Fatal(err)
		}
		w.tmp = w.login("new@example.com")
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.DeclineMyInvite(w.ctx, w.tmp, w.vals["invite new@example.com"])
		return err
	}})
	add("AcceptMyInvite", auditRow{setup: func(w *auditWorld) {
		if err := invite("new@example.com")(w); err != nil {
			w.t.Fatal(err)
		}
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.AcceptMyInvite(w.ctx, w.tmp, w.vals["invite new@example.com"])
		return err
	}})
	add("CancelInvite", auditRow{setup: func(w *auditWorld) {
		if err := invite("cancel@example.com")(w); err != nil {
			w.t.Fatal(err)
		}
	}, run: func(w *auditWorld) error {
		return w.st.Service.CancelInvite(w.ctx, w.owner, w.org, w.vals["invite cancel@example.com"])
	}})
	add("DeclineInvite", auditRow{setup: func(w *auditWorld) {
		if err := invite("decline@example.com")(w); err != nil {
			w.t.Fatal(err)
		}
		w.vals["decline"] = w.link("decline@example.com", "/invite?token=", 1)
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.DeclineInvite(w.ctx, nil, w.vals["decline"], app.Client{IP: "192.0.2.9"})
		return err
	}})
	add("SignUpFromInvite", auditRow{setup: func(w *auditWorld) {
		if err := invite("joiner@example.com")(w); err != nil {
			w.t.Fatal(err)
		}
		w.vals["join"] = w.link("joiner@example.com", "/invite?token=", 1)
	}, want: 3, // the account, the membership and the session: as a sign-up, an acceptance and a login would
		run: func(w *auditWorld) error {
			_, _, err := w.st.Service.SignUpFromInvite(w.ctx, w.vals["join"], app.InviteSignUp{FirstName: "Jo", LastName: "Iner", Password: auditPW}, app.Client{IP: "192.0.2.9"})
			return err
		}})
	add("UpdateSelf", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.UpdateSelf(w.ctx, w.owner, app.SelfInput{FirstName: ptrOf("Olivia")})
		return err
	}})
	add("CreateAPIToken", auditRow{run: func(w *auditWorld) error {
		tok, err := w.st.Service.CreateAPIToken(w.ctx, w.owner, "script")
		if err == nil {
			w.vals["token"], w.vals["token key"] = tok.ID, tok.Key
		}
		return err
	}})
	add("RenameAPIToken", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.RenameAPIToken(w.ctx, w.owner, w.vals["token"], "nightly")
		return err
	}})
	add("DeleteAPIToken", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.DeleteAPIToken(w.ctx, w.owner, w.vals["token"])
		return err
	}})
	add("SignOutSession", auditRow{setup: func(w *auditWorld) { w.vals["other session"] = w.login("owner@example.com").Session.ID },
		run: func(w *auditWorld) error {
			_, err := w.st.Service.SignOutSession(w.ctx, w.owner, w.vals["other session"])
			return err
		}})
	add("SignOutOtherSessions", auditRow{setup: func(w *auditWorld) { w.login("owner@example.com") },
		run: func(w *auditWorld) error {
			_, err := w.st.Service.SignOutOtherSessions(w.ctx, w.owner, app.Reauth{Password: auditPW})
			return err
		}})
	add("RequestEmailChange", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.RequestEmailChange(w.ctx, w.owner, "owner.new@example.com", app.Reauth{Password: auditPW})
		return err
	}})
	add("ResendEmailChange", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.ResendEmailChange(w.ctx, w.owner)
		return err
	}})
	add("CancelEmailChange", auditRow{run: func(w *auditWorld) error { return w.st.Service.CancelEmailChange(w.ctx, w.owner) }})
	add("ConfirmEmailChange", auditRow{setup: func(w *auditWorld) {
		if _, err := w.st.Service.RequestEmailChange(w.ctx, w.owner, "owner.new@example.com", app.Reauth{Password: auditPW}); err != nil {
			w.t.Fatal(err)
		}
		w.vals["change"] = w.link("owner.new@example.com", "/account/email/verify?token=", 3)
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.ConfirmEmailChange(w.ctx, w.owner, w.vals["change"])
		return err
	}})
	add("RevertEmailChange", auditRow{setup: func(w *auditWorld) { w.vals["revert"] = w.link("owner@example.com", "/account/email/revert?token=", 1) },
		run: func(w *auditWorld) error {
			_, err := w.st.Service.RevertEmailChange(w.ctx, w.vals["revert"], app.Client{IP: "192.0.2.9"})
			return err
		}})
	add("RequestRecovery", auditRow{run: func(w *auditWorld) error {
		return w.st.Service.RequestRecovery(w.ctx, "owner@example.com", app.Client{IP: "192.0.2.9"})
	}})
	add("VerifyRecovery", auditRow{setup: func(w *auditWorld) { w.vals["recover"] = w.link("owner@example.com", "/recover/verify?token=", 1) },
		run: func(w *auditWorld) error {
			_, err := w.st.Service.VerifyRecovery(w.ctx, w.vals["recover"], ptrOf(auditPW+" again"), "", app.Client{IP: "192.0.2.9"})
			return err
		}})
	// Two-factor authentication, on the account that joined by invitation.
	add("VerifyTwoFactor", auditRow{setup: func(w *auditWorld) {
		a := w.login("joiner@example.com")
		w.vals["joiner"] = a.Session.ID
		if _, err := w.st.Service.UpdateSelf(w.ctx, a, app.SelfInput{EnableTwoFactor: ptrOf(true), CurrentPassword: ptrOf(auditPW)}); err != nil {
			w.t.Fatal(err)
		}
		secret, _, err := w.st.Service.TwoFactorSecret(w.ctx, a)
		if err != nil {
			w.t.Fatal(err)
		}
		w.vals["secret"] = secret
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.VerifyTwoFactor(w.ctx, w.joiner(), w.code(w.vals["secret"]), auditPW)
		return err
	}})
	add("RegenerateRecoveryCodes", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.RegenerateRecoveryCodes(w.ctx, w.joiner(), auditPW)
		return err
	}})
	add("PassLoginTwoFactor", auditRow{setup: func(w *auditWorld) { w.vals["pending"] = w.pending() }, run: func(w *auditWorld) error {
		a, err := w.st.Service.Authenticate(w.ctx, w.vals["pending"], "192.0.2.9")
		if err != nil {
			return err
		}
		_, err = w.st.Service.PassLoginTwoFactor(w.ctx, a, w.code(w.vals["secret"]))
		return err
	}})
	add("PassTwoFactor", auditRow{setup: func(w *auditWorld) { w.vals["pending"] = w.pending() }, run: func(w *auditWorld) error {
		a, err := w.st.Service.Authenticate(w.ctx, w.vals["pending"], "192.0.2.9")
		if err != nil {
			return err
		}
		return w.st.Service.PassTwoFactor(w.ctx, a, w.code(w.vals["secret"]))
	}})
	// The operator's commands.
	add("DisableUser", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.DisableUser(w.ctx, "new@example.com")
		return err
	}})
	add("EnableUser", auditRow{run: func(w *auditWorld) error {
		_, err := w.st.Service.EnableUser(w.ctx, "new@example.com")
		return err
	}})
	add("EndUserSessions", auditRow{setup: func(w *auditWorld) { w.login("new@example.com") }, run: func(w *auditWorld) error {
		_, err := w.st.Service.EndUserSessions(w.ctx, "new@example.com")
		return err
	}})
	add("AddOperator", auditRow{run: func(w *auditWorld) error {
		_, _, err := w.st.Service.AddOperator(w.ctx, "new@example.com")
		return err
	}})
	add("RemoveOperator", auditRow{run: func(w *auditWorld) error {
		_, _, err := w.st.Service.RemoveOperator(w.ctx, "new@example.com")
		return err
	}})
	// `portal secret-key rotate`: a TOTP secret sealed under an old key K,
	// re-sealed by a Portal whose key is K2 with K as previous key (the
	// other accounts' secrets, under the stack's key, it cannot open: it
	// leaves them as they are, unaudited).
	oldKey, newKey := make([]byte, authn.KeySize), make([]byte, authn.KeySize)
	oldKey[0], newKey[0] = 1, 2
	add("ResealSecrets", auditRow{setup: func(w *auditWorld) {
		old, err := authn.NewSecretBox(oldKey)
		if err != nil {
			w.t.Fatal(err)
		}
		sealed, _ := old.Seal([]byte("JBSWY3DPEHPK3PXP"))
		now := w.st.Clock.Now()
		u := &portal.User{ID: uuid.NewString(), Email: "reseal@example.com", FirstName: "R", LastName: "S", EmailVerified: true,
			PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
		err = w.st.DB.Write(w.ctx, func(tx *store.Tx) error {
			if err := tx.CreateUser(w.ctx, u); err != nil {
				return err
			}
			return tx.StartTwoFactor(w.ctx, u.ID, sealed, now)
		})
		if err != nil {
			w.t.Fatal(err)
		}
	}, run: func(w *auditWorld) error {
		box, err := authn.NewSecretBox(newKey, oldKey)
		if err != nil {
			return err
		}
		r, err := app.New(app.Options{DB: w.st.DB, Now: w.st.Clock.Now, SecretBox: box}).ResealSecrets(w.ctx)
		if err == nil && r.TwoFactorSecrets != 1 {
			w.t.Errorf("ResealSecrets re-sealed %d two-factor secrets, want 1", r.TwoFactorSecrets)
		}
		return err
	}})
	add("DeleteAccount", auditRow{setup: func(w *auditWorld) { w.tmp = w.login("new@example.com") }, run: func(w *auditWorld) error {
		_, err := w.st.Service.DeleteAccount(w.ctx, w.tmp, app.Reauth{Password: auditPW})
		return err
	}})
	// E-mail notifications (notifications.go).
	rows["ListSubscriptions"], rows["NotificationOverview"], rows["NotificationSettingsOf"], rows["NotifyWindow"], rows["UnsubscribeInfo"] = read, read, read, read, read
	rows["SendDigests"] = auditRow{why: "housekeeping: sends the queued notifications as digest mail"}
	add("Subscribe", auditRow{run: func(w *auditWorld) error { return w.st.Service.Subscribe(w.ctx, w.owner, w.org, "") }})
	add("Unsubscribe", auditRow{run: func(w *auditWorld) error { return w.st.Service.Unsubscribe(w.ctx, w.owner, w.org, "") }})
	add("OneClickUnsubscribe", auditRow{setup: func(w *auditWorld) {
		if err := w.st.Service.Subscribe(w.ctx, w.owner, w.org, ""); err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.st.Service.UpdateOrg(w.ctx, w.owner, w.org, app.OrgInput{Name: ptrOf("Acme Notified")}); err != nil {
			w.t.Fatal(err)
		}
		w.st.Clock.Advance(w.st.Service.NotifyWindow())
		if n, err := w.st.Service.SendDigests(w.ctx); err != nil || n != 1 {
			w.t.Fatalf("digests: %d, %v", n, err)
		}
		u, err := w.st.DB.GetUser(w.ctx, w.owner.User.ID)
		if err != nil {
			w.t.Fatal(err)
		}
		m := w.st.SMTP.WaitFor(w.t, func(m smtptest.Message) bool {
			return smtptest.To(u.Email)(m) && m.Header.Get("List-Unsubscribe") != ""
		}, 10*time.Second)
		h := m.Header.Get("List-Unsubscribe")
		w.vals["unsubscribe"] = strings.TrimSuffix(h[strings.LastIndex(h, "/")+1:], ">")
	}, run: func(w *auditWorld) error {
		_, err := w.st.Service.OneClickUnsubscribe(w.ctx, app.Client{IP: "192.0.2.9"}, w.vals["unsubscribe"])
		return err
	}})
	return names, rows
}

// joiner is the actor of the invited account's session.
func (w *auditWorld) joiner() *app.Actor {
	w.t.Helper()
	sessions, err := w.st.DB.ListUserSessions(w.ctx, w.userID("joiner@example.com"), w.st.Clock.Now())
	if err != nil || len(sessions) == 0 {
		w.t.Fatalf("the joiner's session: %v", err)
	}
	u, _ := w.st.DB.GetUserByEmail(w.ctx, "joiner@example.com")
	a := &app.Actor{User: u, Session: sessions[0], IP: "192.0.2.9"}
	if err := w.st.Service.LoadTwoFactor(w.ctx, a); err != nil {
		w.t.Fatal(err)
	}
	return a
}

// pending logs the joiner in with the password only: a session that owes
// its second factor.
func (w *auditWorld) pending() string {
	w.t.Helper()
	res, err := w.st.Service.Login(w.ctx, "joiner@example.com", auditPW, app.Client{IP: "192.0.2.9"})
	if err != nil || !res.TwoFactorRequired {
		w.t.Fatalf("pending login: %v", err)
	}
	return res.Token
}

func (w *auditWorld) userID(email string) string {
	w.t.Helper()
	u, err := w.st.DB.GetUserByEmail(w.ctx, email)
	if err != nil {
		w.t.Fatal(err)
	}
	return u.ID
}

// TestEveryOperationAudited runs every state-changing operation of the
// service once and checks that it wrote exactly one audit entry; a method
// of *app.Service without a row in the table fails it. A change made with
// an API token names the token.
func TestEveryOperationAudited(t *testing.T) {
	names, rows := auditRows()
	st := reflect.TypeOf(&app.Service{})
	methods := map[string]bool{}
	for i := range st.NumMethod() {
		m := st.Method(i).Name
		methods[m] = true
		if _, ok := rows[m]; !ok {
			t.Errorf("(*app.Service).%s has no row in auditRows (audited_test.go): run it there if it changes state, or say why it writes no audit entry", m)
		}
	}
	for m := range rows {
		if !methods[m] {
			t.Errorf("auditRows has a row for %s, which is not a method of *app.Service", m)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		w := &auditWorld{t: t, st: testenv.NewStack(t, d), ctx: context.Background(), vals: map[string]string{}}
		w.signUp("owner@example.com", "Acme")
		w.owner = w.login("owner@example.com")
		priv, err := w.st.DB.ListPrivileges(w.ctx, w.owner.User.ID)
		if err != nil || len(priv) != 1 {
			t.Fatalf("owner's privileges: %v %v", priv, err)
		}
		w.org = priv[0].OrgID
		for _, name := range names {
			row := rows[name]
			if row.setup != nil {
				row.setup(w)
			}
			before := w.count()
			if err := row.run(w); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := max(row.want, 1)
			if n := w.count() - before; n != want {
				t.Errorf("%s wrote %d audit entries, want exactly %d", name, n, want)
			}
			if name == "VerifyRecovery" { // the owner's sessions ended; the password is new
				w.owner = w.loginWith("owner@example.com", auditPW+" again")
			}
		}

		// A change made with an API token names it.
		tok, err := w.st.Service.CreateAPIToken(w.ctx, w.owner, "ci-bot")
		if err != nil {
			t.Fatal(err)
		}
		ta, err := w.st.Service.AuthenticateToken(w.ctx, tok.Key, "192.0.2.9")
		if err != nil {
			t.Fatal(err)
		}
		site, err := w.st.Service.CreateSite(app.WithActor(w.ctx, ta), ta, w.org, app.SiteInput{Name: ptrOf("Made by a script")})
		if err != nil {
			t.Fatal(err)
		}
		entries, _, err := w.st.DB.ListAudit(w.ctx, store.AuditQuery{OrgID: w.org, End: w.st.Clock.Now().Add(time.Hour), Page: portal.Page{Limit: 1, Page: 1}})
		if err != nil || len(entries) != 1 || entries[0].SiteID != site.ID || entries[0].APITokenName != "ci-bot" {
			t.Errorf("the change made with the token: %+v %v, want api token ci-bot", entries, err)
		}
		if strings.Contains(entries[0].Message, tok.Key) {
			t.Errorf("the entry holds the token's key")
		}
	})
}
