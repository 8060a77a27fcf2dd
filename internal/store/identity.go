package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// IdentityLink ties an account at an OpenID Connect provider (by its
// subject) to a Portal user.
type IdentityLink struct {
	ID        string
	UserID    string
	Provider  string // "google"
	Subject   string // the provider's "sub": the link key
	Email     string // the provider's address when linked (shown only)
	Created   time.Time
	LastLogin time.Time // zero: never used to sign in
}

const identityLinkCols = `id, user_id, provider, subject, email, created_at, last_login_at`

func scanIdentityLink(row interface{ Scan(...any) error }) (*IdentityLink, error) {
	var l IdentityLink
	var created, last int64
	if err := row.Scan(&l.ID, &l.UserID, &l.Provider, &l.Subject, &l.Email, &created, &last); err != nil {
		return nil, err
	}
	l.Created, l.LastLogin = fromMS(created), fromMS(last)
	return &l, nil
}

func identityLinkNotFound() error { return notFound("linked account") }

// CreateIdentityLink inserts a link. ErrDuplicate when the provider's
// account is linked already (to anyone) or the user has a link to that
// provider. A failure leaves the transaction usable.
func (tx *Tx) CreateIdentityLink(ctx context.Context, l *IdentityLink) (err error) {
	defer wrap(&err, "CreateIdentityLink(%s)", l.UserID)
	return tx.savepoint(ctx, func() error {
		_, err := tx.exec(ctx, `INSERT INTO identity_links (id, user_id, provider, subject, email, created_at, last_login_at) VALUES (?,?,?,?,?,?,0)`,
			l.ID, l.UserID, l.Provider, l.Subject, l.Email, ms(l.Created))
		return err
	})
}

// GetIdentityLink returns the link of the provider's account subject.
func (c conn) GetIdentityLink(ctx context.Context, provider, subject string) (_ *IdentityLink, err error) {
	defer wrap(&err, "GetIdentityLink(%s)", provider)
	l, err := scanIdentityLink(c.queryRow(ctx, `SELECT `+identityLinkCols+` FROM identity_links WHERE provider = ? AND subject = ?`, provider, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identityLinkNotFound()
	}
	return l, err
}

// GetUserIdentityLink returns the user's link to provider.
func (c conn) GetUserIdentityLink(ctx context.Context, userID, provider string) (_ *IdentityLink, err error) {
	defer wrap(&err, "GetUserIdentityLink(%s, %s)", userID, provider)
	l, err := scanIdentityLink(c.queryRow(ctx, `SELECT `+identityLinkCols+` FROM identity_links WHERE user_id = ? AND provider = ?`, userID, provider))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, identityLinkNotFound()
	}
	return l, err
}

// DeleteUserIdentityLink removes the user's link to provider; not found
// when there is none.
func (tx *Tx) DeleteUserIdentityLink(ctx context.Context, userID, provider string) (err error) {
	defer wrap(&err, "DeleteUserIdentityLink(%s, %s)", userID, provider)
	return tx.execOne(ctx, identityLinkNotFound(), `DELETE FROM identity_links WHERE user_id = ? AND provider = ?`, userID, provider)
}

// TouchIdentityLink records a sign-in through the link; not found when the
// link is gone (unlinked meanwhile).
func (tx *Tx) TouchIdentityLink(ctx context.Context, id string, now time.Time) (err error) {
	defer wrap(&err, "TouchIdentityLink(%s)", id)
	return tx.execOne(ctx, identityLinkNotFound(), `UPDATE identity_links SET last_login_at = ? WHERE id = ?`, ms(now), id)
}

// OAuthFlow is an authorization request under way (see the migration
// 00012): bound to a browser (BrowserHash) or a session (SessionID).
type OAuthFlow struct {
	ID          string
	Purpose     string // "link" or "login"
	Provider    string
	StateHash   string
	BrowserHash string
	SessionID   string
	UserID      string
	Nonce       string
	Verifier    string // sealed
	Forward     string // the Portal path to go to afterwards
	ViaAPI      bool   // started through the JSON API
	Created     time.Time
	Expires     time.Time
}

const oauthFlowCols = `id, purpose, provider, state_hash, browser_hash, session_id, user_id, nonce, verifier, forward, via_api, created_at, expires_at`

func scanOAuthFlow(row interface{ Scan(...any) error }) (*OAuthFlow, error) {
	var f OAuthFlow
	var created, expires int64
	if err := row.Scan(&f.ID, &f.Purpose, &f.Provider, &f.StateHash, &f.BrowserHash, &f.SessionID, &f.UserID, &f.Nonce, &f.Verifier,
		&f.Forward, &f.ViaAPI, &created, &expires); err != nil {
		return nil, err
	}
	f.Created, f.Expires = fromMS(created), fromMS(expires)
	return &f, nil
}

func oauthFlowNotFound() error { return notFound("sign-in with the provider") }

// CreateOAuthFlow inserts a flow.
func (tx *Tx) CreateOAuthFlow(ctx context.Context, f *OAuthFlow) (err error) {
	defer wrap(&err, "CreateOAuthFlow(%s)", f.Purpose)
	_, err = tx.exec(ctx, `INSERT INTO oauth_flows (`+oauthFlowCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		f.ID, f.Purpose, f.Provider, f.StateHash, f.BrowserHash, f.SessionID, f.UserID, f.Nonce, f.Verifier, f.Forward, f.ViaAPI, ms(f.Created), ms(f.Expires))
	return err
}

// GetOAuthFlowByState returns the flow whose state hashes to stateHash.
func (c conn) GetOAuthFlowByState(ctx context.Context, stateHash string) (_ *OAuthFlow, err error) {
	defer wrap(&err, "GetOAuthFlowByState")
	f, err := scanOAuthFlow(c.queryRow(ctx, `SELECT `+oauthFlowCols+` FROM oauth_flows WHERE state_hash = ?`, stateHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oauthFlowNotFound()
	}
	return f, err
}

// LatestOAuthFlow returns the newest flow of purpose bound to the browser
// (browserHash) or, when browserHash is "", to the session.
func (c conn) LatestOAuthFlow(ctx context.Context, purpose, browserHash, sessionID string) (_ *OAuthFlow, err error) {
	defer wrap(&err, "LatestOAuthFlow(%s)", purpose)
	q, arg := `SELECT `+oauthFlowCols+` FROM oauth_flows WHERE purpose = ? AND browser_hash = ? ORDER BY created_at DESC LIMIT 1`, browserHash
	if browserHash == "" {
		q, arg = `SELECT `+oauthFlowCols+` FROM oauth_flows WHERE purpose = ? AND session_id = ? ORDER BY created_at DESC LIMIT 1`, sessionID
	}
	if arg == "" {
		return nil, oauthFlowNotFound()
	}
	f, err := scanOAuthFlow(c.queryRow(ctx, q, purpose, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oauthFlowNotFound()
	}
	return f, err
}

// TakeOAuthFlow deletes the flow, which uses it up: not found when it was
// taken already (of two concurrent requests, one gets it).
func (tx *Tx) TakeOAuthFlow(ctx context.Context, id string) (err error) {
	defer wrap(&err, "TakeOAuthFlow(%s)", id)
	return tx.execOne(ctx, oauthFlowNotFound(), `DELETE FROM oauth_flows WHERE id = ?`, id)
}

// DeleteOAuthFlows removes the flows bound to a browser or a session, and
// every expired one.
func (tx *Tx) DeleteOAuthFlows(ctx context.Context, browserHash, sessionID string, now time.Time) (err error) {
	defer wrap(&err, "DeleteOAuthFlows")
	_, err = tx.exec(ctx, `DELETE FROM oauth_flows WHERE (browser_hash <> '' AND browser_hash = ?) OR (session_id <> '' AND session_id = ?) OR expires_at < ?`,
		browserHash, sessionID, ms(now))
	return err
}
