package app

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/oidclogin"
	"portal/internal/store"
)

// Sign in with Google (OpenID Connect; the protocol is internal/oidclogin).
//
// The rules, all here:
//   - Linking needs a session (not an API token) that authenticated
//     recently (SessionPrivileged), or the current password given with
//     the request that starts it; the flow must then be finished by the
//     same session within OAuthFlowTTL.
//   - The provider's account is known by its subject ("sub"), never by its
//     e-mail address: signing in with Google never links or creates an
//     account by matching addresses. A Google account that is not linked
//     gets a refusal that says how to link it.
//   - One Google account links to one Portal account, and a Portal account
//     has at most one Google account (unique indexes).
//   - Signing in with Google opens a session as a password login does, and
//     that session still owes the second factor when two-factor
//     authentication is on.
//   - Unlinking needs a session (not an API token) and the current
//     password, and is refused when the account has none (it must keep a
//     way in).
//   - Each flow (state, nonce, PKCE verifier) is bound to the browser
//     (a random cookie, stored hashed) or the session that started it, and
//     is used once: finishing it deletes it, whatever the outcome.
//   - Linking, unlinking and signing in are audit-logged; linking and
//     unlinking are mailed.

// ProviderGoogle is the provider's name in paths and in identity links.
const ProviderGoogle = "google"

// opLinkGoogle and opUnlinkGoogle are refused to API tokens (sensitive.go):
// a Google account is a way into the account, added or taken away. They
// are not in SessionOnlyOperations, whose test runs without Google
// sign-in; TestGoogleRefusals and the role × route table
// (TestAuthzEveryRoute) try them with a token.
const (
	opLinkGoogle   SessionOnly = "link a Google account"
	opUnlinkGoogle SessionOnly = "unlink the Google account"
)

// OAuthFlowTTL is how long a started sign-in or link may take at the
// provider.
const OAuthFlowTTL = 10 * time.Minute

const (
	purposeLink  = "link"
	purposeLogin = "login"
)

// GoogleCallbackPath is Portal's redirect URI at the provider (register
// PORTAL_BASE_URL + this path with it).
const GoogleCallbackPath = "/oauth/google/callback"

// GoogleEnabled reports whether Google sign-in is configured
// (PORTAL_GOOGLE_CLIENT_ID).
func (s *Service) GoogleEnabled() bool { return s != nil && s.google != nil }

// GoogleAuthOrigin is the origin of Google's sign-in page (for the
// Content-Security-Policy of the pages whose forms lead there); "" when
// Google sign-in is off.
func (s *Service) GoogleAuthOrigin() string {
	if !s.GoogleEnabled() {
		return ""
	}
	return s.google.AuthOrigin()
}

// errGoogleOff is the answer of every Google operation when it is not
// configured: the 404 of a path that does not exist.
func errGoogleOff() error {
	return portal.Errorf(portal.ENOTFOUND, "not found")
}

// errProviderDown is the answer when Google cannot be reached.
func errProviderDown(cause error) error {
	return &portal.Error{Code: portal.EUNAVAILABLE, RetryAfter: 30 * time.Second, Err: cause,
		Fields:  map[string]any{"provider_unavailable": true},
		Message: "Google cannot be reached right now, so signing in with Google is not possible; please try again in a few minutes (your password still works)"}
}

// providerError turns an error of oidclogin into what the user reads.
func providerError(err error) error {
	var re *oidclogin.RefusedError
	switch {
	case errors.As(err, &re):
		return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"error": "invalid_grant", "error_description": re.Reason},
			Message: "Google's answer was refused: " + re.Reason + "; please try again"}
	case errors.Is(err, oidclogin.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return errProviderDown(err)
	}
	return err
}

func errFlowGone() error {
	return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"error": "invalid_request", "error_description": "unknown or used state"},
		Message: "this sign-in with Google is unknown, expired or already used (or was started in another browser); please start again"}
}

// GoogleStart is a started flow: the provider's sign-in page, and for the
// caller to keep the browser's key (BrowserKey, the cookie of a sign-in;
// "" for a link, which its session holds).
type GoogleStart struct {
	AuthorizationURL string
	ClientID         string
	BrowserKey       string
	Linked           bool // link: the user has a Google account linked already
}

// GoogleLinkInput starts linking.
type GoogleLinkInput struct {
	Forward  string // the Portal path to come back to ("" : My Account)
	Password string // needed unless the session authenticated recently
	ViaAPI   bool
}

// StartGoogleLink starts linking a Google account to the actor's account.
func (s *Service) StartGoogleLink(ctx context.Context, a *Actor, in GoogleLinkInput) (_ *GoogleStart, err error) {
	defer wrap(&err, "StartGoogleLink")
	if s.google == nil {
		return nil, errGoogleOff()
	}
	if a.Session == nil {
		return nil, requireSession(a, opLinkGoogle)
	}
	forward, err := s.cleanForward(in.Forward, "/account#social")
	if err != nil {
		return nil, err
	}
	if !s.SessionPrivileged(a) {
		if in.Password == "" {
			return nil, &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"reauthentication_required": true, "password_required": true, "field": "password"},
				Message: "to link a Google account, give your current password (or log in again: without it, linking is allowed only within " + strconv.Itoa(portal.PrivilegedSessionMinutes) + " minutes of logging in)"}
		}
		u, err := s.db.GetUser(ctx, a.User.ID)
		if err != nil {
			return nil, err
		}
		if err := s.checkCurrentPassword(ctx, u, in.Password, "password"); err != nil {
			return nil, err
		}
	}
	linked := false
	if _, err := s.db.GetUserIdentityLink(ctx, a.User.ID, ProviderGoogle); err == nil {
		linked = true
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		return nil, err
	}
	f := &store.OAuthFlow{Purpose: purposeLink, SessionID: a.Session.ID, UserID: a.User.ID, Forward: forward, ViaAPI: in.ViaAPI}
	st, err := s.startFlow(ctx, f, "", "")
	if err != nil {
		return nil, err
	}
	st.Linked = linked
	return st, nil
}

// StartGoogleLogin starts a sign-in with Google from a browser (or an API
// client that keeps cookies). browserKey is the key of the browser's
// previous flow, replaced by this one ("" for none). Each start stores a
// flow for someone not signed in: they are counted per client address
// (limitGoogleStart).
func (s *Service) StartGoogleLogin(ctx context.Context, forward, browserKey string, viaAPI bool, c Client) (_ *GoogleStart, err error) {
	defer wrap(&err, "StartGoogleLogin")
	if s.google == nil {
		return nil, errGoogleOff()
	}
	forward, err = s.cleanForward(forward, "/")
	if err != nil {
		return nil, err
	}
	if err := s.checkLimits(ctx, s.clock(), limitKey{limitGoogleStart, c.IP}); err != nil {
		return nil, err
	}
	return s.startFlow(ctx, &store.OAuthFlow{Purpose: purposeLogin, Forward: forward, ViaAPI: viaAPI}, browserKey, c.IP)
}

// startFlow makes a flow's secrets, asks the provider for its sign-in URL
// (discovery: the provider may be down, and then nothing is written) and
// stores the flow, replacing the browser's or session's previous one (and
// every expired one). A sign-in's start is counted for the client address
// ip (limitGoogleStart).
func (s *Service) startFlow(ctx context.Context, f *store.OAuthFlow, oldBrowserKey, ip string) (*GoogleStart, error) {
	state, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	nonce, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	verifier, err := authn.NewToken() // 43 URL-safe characters: a valid PKCE verifier
	if err != nil {
		return nil, err
	}
	u, err := s.google.AuthCodeURL(ctx, state, nonce, verifier)
	if err != nil {
		return nil, providerError(err)
	}
	sealed, err := s.box.Seal([]byte(verifier))
	if err != nil {
		return nil, err
	}
	st := &GoogleStart{AuthorizationURL: u, ClientID: s.google.ClientID()}
	oldBrowserHash := ""
	if oldBrowserKey != "" && len(oldBrowserKey) <= 128 {
		oldBrowserHash = authn.HashToken(oldBrowserKey)
	}
	if f.Purpose == purposeLogin {
		if st.BrowserKey, err = authn.NewToken(); err != nil {
			return nil, err
		}
		f.BrowserHash = authn.HashToken(st.BrowserKey)
	}
	now := s.clock()
	f.ID, f.Provider, f.StateHash, f.Nonce, f.Verifier, f.Created, f.Expires = newID(), ProviderGoogle, authn.HashToken(state), nonce, sealed, now, now.Add(OAuthFlowTTL)
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if f.Purpose == purposeLogin {
			if _, _, err := limitGoogleStart.record(ctx, tx, ip, now); err != nil {
				return err
			}
		}
		if err := tx.DeleteOAuthFlows(ctx, oldBrowserHash, f.SessionID, now); err != nil {
			return err
		}
		return tx.CreateOAuthFlow(ctx, f)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// GoogleCallback is what the provider sent back to Portal's redirect URI.
type GoogleCallback struct {
	Code  string
	State string // "" from API clients, whose flow is found by its binding
	// BrowserKey is the sign-in cookie; SessionToken the session cookie:
	// what binds the flow to this browser.
	BrowserKey string
	// Error is the provider's error parameter (the user cancelled, say).
	Error string
}

// GoogleFlowInfo says what a flow is for, so that the callback page can
// finish it the right way.
type GoogleFlowInfo struct {
	Purpose string // "link" or "login"
	Forward string
	ViaAPI  bool
}

// GoogleFlow looks up the flow of a callback's state without using it:
// unknown or expired flows are refused.
func (s *Service) GoogleFlow(ctx context.Context, state string) (_ *GoogleFlowInfo, err error) {
	defer wrap(&err, "GoogleFlow")
	if s.google == nil {
		return nil, errGoogleOff()
	}
	if state == "" || len(state) > 128 {
		return nil, errFlowGone()
	}
	f, err := s.db.GetOAuthFlowByState(ctx, authn.HashToken(state))
	if portal.ErrorCode(err) == portal.ENOTFOUND || (err == nil && !s.clock().Before(f.Expires)) {
		return nil, errFlowGone()
	}
	if err != nil {
		return nil, err
	}
	return &GoogleFlowInfo{Purpose: f.Purpose, Forward: f.Forward, ViaAPI: f.ViaAPI}, nil
}

// takeFlow finds the flow of a callback (by its state, or else the latest
// of its binding), checks that it is bound to this browser or session,
// and uses it up. Any refusal after it was found still uses it up, so a
// flow is tried once.
func (s *Service) takeFlow(ctx context.Context, purpose string, cb GoogleCallback, sessionID string) (*store.OAuthFlow, string, error) {
	browserHash := ""
	if cb.BrowserKey != "" && len(cb.BrowserKey) <= 128 {
		browserHash = authn.HashToken(cb.BrowserKey)
	}
	var f *store.OAuthFlow
	var err error
	switch {
	case len(cb.State) > 128:
		return nil, "", errFlowGone()
	case cb.State != "":
		f, err = s.db.GetOAuthFlowByState(ctx, authn.HashToken(cb.State))
	case purpose == purposeLogin:
		f, err = s.db.LatestOAuthFlow(ctx, purpose, browserHash, "")
	default:
		f, err = s.db.LatestOAuthFlow(ctx, purpose, "", sessionID)
	}
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, "", errFlowGone()
	}
	if err != nil {
		return nil, "", err
	}
	bound := f.Purpose == purpose && (purpose == purposeLogin && f.BrowserHash != "" && authn.EqualConstantTime(f.BrowserHash, browserHash) ||
		purpose == purposeLink && f.SessionID != "" && f.SessionID == sessionID)
	if !bound {
		// Another browser's or session's flow: not used up, it is theirs.
		return nil, "", errFlowGone()
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.TakeOAuthFlow(ctx, f.ID) }); err != nil {
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return nil, "", errFlowGone() // used meanwhile
		}
		return nil, "", err
	}
	if !s.clock().Before(f.Expires) {
		return nil, "", errFlowGone()
	}
	if cb.Error != "" {
		return nil, "", &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"error": "access_denied", "error_description": portal.Truncate(cb.Error, 100)},
			Message: "Google did not sign you in (" + portal.Truncate(cb.Error, 100) + "); nothing was changed"}
	}
	if strings.TrimSpace(cb.Code) == "" || len(cb.Code) > 2048 {
		return nil, "", portal.Errorf(portal.EINVALID, "code is required: the code that Google sent back")
	}
	verifier, err := s.box.Open(f.Verifier)
	if errors.Is(err, authn.ErrDecrypt) {
		// Sealed under a key this instance does not have (secret_key.go):
		// the flow cannot be finished; the user starts again.
		s.log.Error("a Google sign-in's PKCE verifier opens under no configured key: was PORTAL_SECRET_KEY changed without the old key in PORTAL_SECRET_KEY_PREVIOUS?",
			"flow", f.ID, "err", err.Error())
		return nil, "", errFlowGone()
	}
	if err != nil {
		return nil, "", err
	}
	return f, string(verifier), nil
}

// GoogleLink is a linked Google account.
type GoogleLink struct {
	Subject string
	Email   string
	Created time.Time
}

// FinishGoogleLink links the Google account that signed in at the provider
// to the actor's account.
func (s *Service) FinishGoogleLink(ctx context.Context, a *Actor, cb GoogleCallback) (_ *GoogleLink, err error) {
	defer wrap(&err, "FinishGoogleLink")
	if s.google == nil {
		return nil, errGoogleOff()
	}
	if a.Session == nil {
		return nil, requireSession(a, opLinkGoogle)
	}
	f, verifier, err := s.takeFlow(ctx, purposeLink, cb, a.Session.ID)
	if err != nil {
		return nil, err
	}
	if f.UserID != a.User.ID {
		return nil, errFlowGone()
	}
	id, err := s.google.Exchange(ctx, cb.Code, verifier, f.Nonce)
	if err != nil {
		return nil, providerError(err)
	}
	now := s.clock()
	l := &store.IdentityLink{ID: newID(), UserID: a.User.ID, Provider: ProviderGoogle, Subject: id.Subject, Email: portal.Truncate(id.Email, portal.MaxEmailLen), Created: now}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.CreateIdentityLink(ctx, l); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return s.linkConflict(ctx, tx, a.User.ID, id.Subject)
			}
			return err
		}
		if err := w.mail(ctx, a.User.Email, "google_linked", s.twoFactorMail(a.User, "/recover")); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, "", "", "Linked a Google account", nil, map[string]any{"oauth_google": true, "google_email": l.Email})
	})
	if err != nil {
		return nil, err
	}
	return &GoogleLink{Subject: l.Subject, Email: l.Email, Created: now}, nil
}

// linkConflict says which unique rule refused a link.
func (s *Service) linkConflict(ctx context.Context, tx *store.Tx, userID, subject string) error {
	if l, err := tx.GetIdentityLink(ctx, ProviderGoogle, subject); err == nil {
		if l.UserID == userID {
			return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"error": "already_linked", "error_description": "already linked"},
				Message: "this Google account is already linked to your account"}
		}
		return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"error": "linked_elsewhere", "error_description": "linked to another account"},
			Message: "this Google account is already linked to another Portal account; unlink it there first, or choose another Google account"}
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		return err
	}
	return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"error": "already_linked", "error_description": "another Google account is linked"},
		Message: "your account is already linked to another Google account; unlink it first"}
}

// GoogleLogin signs in the Portal user linked to the Google account that
// signed in at the provider, as Login does (the session may owe its second
// factor). c.SessionToken is the browser's session, replaced when it is
// the same user's.
func (s *Service) GoogleLogin(ctx context.Context, cb GoogleCallback, c Client) (_ *LoginResult, forward string, err error) {
	defer wrap(&err, "GoogleLogin")
	if s.google == nil {
		return nil, "", errGoogleOff()
	}
	f, verifier, err := s.takeFlow(ctx, purposeLogin, cb, "")
	if err != nil {
		return nil, "", err
	}
	id, err := s.google.Exchange(ctx, cb.Code, verifier, f.Nonce)
	if err != nil {
		return nil, "", providerError(err)
	}
	notLinked := &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"oauth_not_linked": true},
		Message: "this Google account (" + id.Email + ") is not linked to a Portal account: log in with your email address and password, then link it under My Account, Social Sign In"}
	l, err := s.db.GetIdentityLink(ctx, ProviderGoogle, id.Subject)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		s.onLogin("failure")
		return nil, "", notLinked
	}
	if err != nil {
		return nil, "", err
	}
	u, err := s.db.GetUser(ctx, l.UserID)
	if err != nil {
		return nil, "", err
	}
	if u.Disabled() { // by an operator (operator.go)
		s.onLogin("failure")
		return nil, "", errDisabled(portal.EFORBIDDEN)
	}
	if u.PasswordResetRequired { // after "this wasn't me" (email_change.go): only recovery opens it
		s.onLogin("failure")
		return nil, "", &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"password_reset_required": true},
			Message: "this account was locked when a change of its email address was undone: choose a new password with Forgot password? on the login page"}
	}
	sess, token, pending, err := s.newLoginSession(ctx, u, c)
	if err != nil {
		return nil, "", err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.TouchIdentityLink(ctx, l.ID, sess.CreatedTime); err != nil {
			if portal.ErrorCode(err) == portal.ENOTFOUND {
				return notLinked // unlinked meanwhile
			}
			return err
		}
		var after map[string]any = map[string]any{"with": "google"}
		if c.SessionToken != "" && len(c.SessionToken) <= 128 {
			ended, err := tx.DeleteUserSessionByToken(ctx, u.ID, authn.HashToken(c.SessionToken))
			if err != nil {
				return err
			}
			if ended {
				after["previous_session_ended"] = true
			}
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return w.audit(ctx, u, c.IP, "", "", "Logged in with Google", nil, after)
	})
	if err != nil {
		return nil, "", err
	}
	s.onLogin("success")
	return &LoginResult{Token: token, Session: sess, User: u, TwoFactorRequired: pending}, f.Forward, nil
}

// newLoginSession prepares the session of a login (not yet written): the
// user's session limits, a second factor owed when it is on.
func (s *Service) newLoginSession(ctx context.Context, u *portal.User, c Client) (*portal.Session, string, bool, error) {
	limits, err := userSessionLimits(ctx, s.db, u.ID)
	if err != nil {
		return nil, "", false, err
	}
	token, err := authn.NewToken()
	if err != nil {
		return nil, "", false, err
	}
	csrf, err := authn.NewToken()
	if err != nil {
		return nil, "", false, err
	}
	pending, err := s.twoFactorActive(ctx, u.ID)
	if err != nil {
		return nil, "", false, err
	}
	now := s.clock()
	expires := limits.expires(now, now)
	if pending {
		expires = now.Add(min(expires.Sub(now), pendingTwoFactorTTL))
	}
	return &portal.Session{ID: newID(), TokenHash: authn.HashToken(token), UserID: u.ID, CSRFToken: csrf,
		CreatedTime: now, LastSeenTime: now, ExpiresTime: expires, AuthTime: now,
		IP: c.IP, UserAgent: portal.Truncate(c.UserAgent, 512)}, token, pending, nil
}

// GoogleLinkOf returns the user's linked Google account, or nil.
func (s *Service) GoogleLinkOf(ctx context.Context, userID string) (_ *GoogleLink, err error) {
	defer wrap(&err, "GoogleLinkOf(%s)", userID)
	if s.google == nil {
		return nil, nil
	}
	l, err := s.db.GetUserIdentityLink(ctx, userID, ProviderGoogle)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &GoogleLink{Subject: l.Subject, Email: l.Email, Created: l.Created}, nil
}

// UnlinkGoogle removes the actor's Google link; it needs the current
// password.
func (s *Service) UnlinkGoogle(ctx context.Context, a *Actor, password string) (err error) {
	defer wrap(&err, "UnlinkGoogle")
	if s.google == nil {
		return errGoogleOff()
	}
	if err := requireSession(a, opUnlinkGoogle); err != nil {
		return err
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return err
	}
	if u.PasswordHash == "" {
		return portal.Errorf(portal.EFORBIDDEN, "your account has no password, so Google is its only way in: set a password (Forgot password? on the login page) before unlinking Google")
	}
	if _, err := s.db.GetUserIdentityLink(ctx, u.ID, ProviderGoogle); err != nil {
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return portal.Errorf(portal.ENOTFOUND, "no Google account is linked to your account")
		}
		return err
	}
	if password == "" {
		return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"reauthentication_required": true, "password_required": true, "field": "password"},
			Message: "to unlink your Google account, give your current password"}
	}
	if err := s.checkCurrentPassword(ctx, u, password, "password"); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.DeleteUserIdentityLink(ctx, u.ID, ProviderGoogle); err != nil {
			if portal.ErrorCode(err) == portal.ENOTFOUND {
				return portal.Errorf(portal.ENOTFOUND, "no Google account is linked to your account")
			}
			return err
		}
		if err := w.mail(ctx, u.Email, "google_unlinked", s.twoFactorMail(u, "/recover")); err != nil {
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Unlinked the Google account", map[string]any{"oauth_google": true}, map[string]any{"oauth_google": false})
	})
}

// cleanForward accepts a Portal path (or an absolute URL on PORTAL_BASE_URL,
// reduced to its path) as where to go after a flow: never another site.
func (s *Service) cleanForward(forward, def string) (string, error) {
	forward = strings.TrimSpace(forward)
	if forward == "" {
		return def, nil
	}
	bad := portal.Errorf(portal.EINVALID, "forward must be a page of this Portal (a path such as /account), not another site")
	if len(forward) > 1024 || strings.ContainsAny(forward, "\r\n\t\\") {
		return "", bad
	}
	u, err := url.Parse(forward)
	if err != nil {
		return "", bad
	}
	if u.Scheme != "" || u.Host != "" {
		base, err := url.Parse(s.baseURL)
		if err != nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) || u.User != nil {
			return "", bad
		}
		u.Scheme, u.Host = "", ""
		if u.Path == "" {
			u.Path = "/"
		}
	}
	p := u.String()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "", bad
	}
	return p, nil
}
