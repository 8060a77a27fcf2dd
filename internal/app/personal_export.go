package app

import (
	"context"
	"time"

	"portal"
	"portal/internal/store"
)

// Personal data export (My Account ▸ Download my data, GET
// /api/v1/self/export): one document with everything Portal holds about
// the user, and never a secret: no password or its hash, no session
// token, CSRF token, API key or its hash, no TOTP secret or recovery code.
// The document's shape is this file's types; a test checks that no secret
// of the account appears in it.

// ExportVersion is the version of the document's shape.
const ExportVersion = 1

// PersonalData is the export document.
type PersonalData struct {
	Version       int                  `json:"version"`
	ExportedAt    time.Time            `json:"exported_at"`
	Profile       ExportProfile        `json:"profile"`
	Preferences   ExportPreferences    `json:"preferences"`
	TwoFactor     ExportTwoFactor      `json:"two_factor"`
	Memberships   []ExportMembership   `json:"memberships"`
	Subscriptions []ExportSubscription `json:"subscriptions"`
	Sessions      []ExportSession      `json:"sessions"`
	APITokens     []ExportAPIToken     `json:"api_tokens"`
	LinkedSignIns []ExportLinkedSignIn `json:"linked_sign_ins"`
	PendingEmail  *ExportPendingEmail  `json:"pending_email_change,omitempty"`
	AuditEntries  []ExportAuditEntry   `json:"audit_entries"`
	LoginFailures []ExportLoginFailure `json:"login_failures"`
	Survey        ExportSurvey         `json:"survey"`
	// Retention says how long each kind of record is kept.
	Retention map[string]string `json:"retention"`
}

// ExportProfile is the account itself.
type ExportProfile struct {
	ID                    string    `json:"id"`
	Email                 string    `json:"email"`
	EmailVerified         bool      `json:"email_verified"`
	FirstName             string    `json:"first_name"`
	LastName              string    `json:"last_name"`
	Phone                 string    `json:"phone"`
	Phone2                string    `json:"phone2"`
	Created               time.Time `json:"created"`
	Modified              time.Time `json:"modified"`
	PasswordChanged       time.Time `json:"password_changed"`
	PasswordResetRequired bool      `json:"password_reset_required"`
}

// ExportPreferences are the display preferences.
type ExportPreferences struct {
	MACFormat string `json:"mac_format"`
	Hour24    bool   `json:"hour24"`
	Timezone  string `json:"timezone"`
}

// ExportTwoFactor says whether two-factor authentication is on (never its
// secret or recovery codes).
type ExportTwoFactor struct {
	Enabled                bool `json:"enabled"`
	RecoveryCodesRemaining int  `json:"recovery_codes_remaining"`
}

// ExportMembership is one privilege in an organization.
type ExportMembership struct {
	OrgID    string `json:"org_id"`
	OrgName  string `json:"org_name"`
	Role     string `json:"role"`
	Scope    string `json:"scope"`
	SiteID   string `json:"site_id,omitempty"`
	SiteName string `json:"site_name,omitempty"`
}

// ExportSubscription is one subscription to an organization's or a
// site's e-mail notifications.
type ExportSubscription struct {
	OrgID    string    `json:"org_id"`
	OrgName  string    `json:"org_name"`
	SiteID   string    `json:"site_id,omitempty"`
	SiteName string    `json:"site_name,omitempty"`
	Created  time.Time `json:"created"`
}

// ExportSession is one open session (never its token).
type ExportSession struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Expires   time.Time `json:"expires"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// ExportAPIToken is one API token by name (never its key or hash).
type ExportAPIToken struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// ExportLinkedSignIn is one linked sign-in with a provider.
type ExportLinkedSignIn struct {
	Provider  string     `json:"provider"`
	Email     string     `json:"email"`
	Subject   string     `json:"subject"`
	Linked    time.Time  `json:"linked"`
	LastLogin *time.Time `json:"last_login,omitempty"`
}

// ExportPendingEmail is an e-mail change waiting for its link.
type ExportPendingEmail struct {
	Email   string    `json:"email"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// ExportAuditEntry is one audit entry of the user's own activity.
type ExportAuditEntry struct {
	Time         time.Time      `json:"time"`
	OrgID        string         `json:"org_id"`
	SiteID       string         `json:"site_id"`
	Message      string         `json:"message"`
	Before       map[string]any `json:"before,omitempty"`
	After        map[string]any `json:"after,omitempty"`
	SrcIP        string         `json:"src_ip"`
	APITokenName string         `json:"api_token_name,omitempty"`
}

// ExportLoginFailure is one failed login on the account.
type ExportLoginFailure struct {
	Time      time.Time `json:"time"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Reason    string    `json:"reason"`
}

// ExportSurvey is where the user stands with the survey and their
// answers (survey.go).
type ExportSurvey struct {
	SnoozedUntil *time.Time           `json:"snoozed_until,omitempty"`
	DontAskAgain *time.Time           `json:"dont_ask_again,omitempty"`
	Answers      []ExportSurveyAnswer `json:"answers"`
}

// ExportSurveyAnswer is one of the user's answers to the survey.
type ExportSurveyAnswer struct {
	Time         time.Time `json:"time"`
	Satisfaction int       `json:"satisfaction"`
	Ease         int       `json:"ease"`
	Purpose      string    `json:"purpose"`
	Comment      string    `json:"comment"`
}

// exportAuditPage is how many audit entries are read at once.
const exportAuditPage = 1000

// ExportPersonalData returns everything Portal holds about the actor.
func (s *Service) ExportPersonalData(ctx context.Context, a *Actor) (_ *PersonalData, err error) {
	defer wrap(&err, "ExportPersonalData")
	now := s.clock()
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	d := &PersonalData{Version: ExportVersion, ExportedAt: now,
		Profile: ExportProfile{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, FirstName: u.FirstName, LastName: u.LastName,
			Phone: u.Phone, Phone2: u.Phone2, Created: u.CreatedTime, Modified: u.ModifiedTime, PasswordChanged: u.PasswordModifiedTime,
			PasswordResetRequired: u.PasswordResetRequired},
		Preferences: ExportPreferences{MACFormat: u.MACFormat, Hour24: u.Hour24, Timezone: u.Timezone},
		Memberships: []ExportMembership{}, Subscriptions: []ExportSubscription{}, Sessions: []ExportSession{}, APITokens: []ExportAPIToken{},
		LinkedSignIns: []ExportLinkedSignIn{}, AuditEntries: []ExportAuditEntry{}, LoginFailures: []ExportLoginFailure{},
		Survey: ExportSurvey{Answers: []ExportSurveyAnswer{}},
		Retention: map[string]string{
			"audit_entries":  "as long as each organization keeps its audit log (default 365 days; your own entries outside organizations 365 days)",
			"login_failures": Lifetime(loginFailureRetention),
			"after_deletion": "your audit entries are kept " + Lifetime(DeletedUserAuditRetention) + " after you delete your account; everything else goes at once",
			"survey_answers": "your ratings stay in the survey's results, without your name or your comment, after you delete your account",
		}}
	if tf, err := s.getTwoFactor(ctx, u.ID); err != nil {
		return nil, err
	} else if tf != nil && tf.Verified {
		d.TwoFactor.Enabled = true
		stats, err := s.db.RecoveryCodes(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		d.TwoFactor.RecoveryCodesRemaining = stats.Remaining
	}
	privs, err := s.db.ListPrivileges(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, p := range privs {
		d.Memberships = append(d.Memberships, ExportMembership{OrgID: p.OrgID, OrgName: p.OrgName, Role: p.Role, Scope: p.Scope, SiteID: p.SiteID, SiteName: p.SiteName})
	}
	subs, err := s.db.ListSubscriptions(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, sub := range subs {
		d.Subscriptions = append(d.Subscriptions, ExportSubscription{OrgID: sub.OrgID, OrgName: sub.OrgName, SiteID: sub.SiteID, SiteName: sub.SiteName, Created: sub.Created})
	}
	sessions, err := s.db.ListUserSessions(ctx, u.ID, now)
	if err != nil {
		return nil, err
	}
	for _, se := range sessions {
		d.Sessions = append(d.Sessions, ExportSession{ID: se.ID, Created: se.CreatedTime, LastSeen: se.LastSeenTime, Expires: se.ExpiresTime, IP: se.IP, UserAgent: se.UserAgent})
	}
	tokens, err := s.db.ListUserAPITokens(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		et := ExportAPIToken{ID: t.ID, Name: t.Name, Created: t.Created}
		if !t.LastUsed.IsZero() {
			et.LastUsed = &t.LastUsed
		}
		d.APITokens = append(d.APITokens, et)
	}
	if l, err := s.db.GetUserIdentityLink(ctx, u.ID, "google"); err == nil {
		el := ExportLinkedSignIn{Provider: l.Provider, Email: l.Email, Subject: l.Subject, Linked: l.Created}
		if !l.LastLogin.IsZero() {
			el.LastLogin = &l.LastLogin
		}
		d.LinkedSignIns = append(d.LinkedSignIns, el)
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		return nil, err
	}
	if p, err := s.db.PendingEmailToken(ctx, u.ID, purposeEmailChange, now); err == nil {
		d.PendingEmail = &ExportPendingEmail{Email: p.Email, Created: p.Created, Expires: p.Expires}
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		return nil, err
	}
	for page := 1; ; page++ {
		entries, total, err := s.db.ListAudit(ctx, store.AuditQuery{AdminID: u.ID, End: now.Add(time.Second), Page: portal.Page{Limit: exportAuditPage, Page: page}})
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			d.AuditEntries = append(d.AuditEntries, ExportAuditEntry{Time: e.Timestamp, OrgID: e.OrgID, SiteID: e.SiteID, Message: e.Message,
				Before: e.Before, After: e.After, SrcIP: e.SrcIP, APITokenName: e.APITokenName})
		}
		if len(entries) < exportAuditPage || page*exportAuditPage >= total {
			break
		}
	}
	failures, _, err := s.db.ListLoginFailures(ctx, u.ID, time.Time{}, 100_000)
	if err != nil {
		return nil, err
	}
	for _, f := range failures {
		d.LoginFailures = append(d.LoginFailures, ExportLoginFailure{Time: f.Time, IP: f.IP, UserAgent: f.UserAgent, Reason: f.Reason})
	}
	st, err := s.db.GetSurveyState(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if st.SnoozedUntil.After(now) {
		d.Survey.SnoozedUntil = &st.SnoozedUntil
	}
	if !st.Never.IsZero() {
		d.Survey.DontAskAgain = &st.Never
	}
	answers, err := s.db.UserSurveyAnswers(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range answers {
		d.Survey.Answers = append(d.Survey.Answers, ExportSurveyAnswer{Time: a.Created, Satisfaction: a.Satisfaction, Ease: a.Ease, Purpose: a.Purpose, Comment: a.Comment})
	}
	return d, nil
}
