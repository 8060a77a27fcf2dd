package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/oidclogin"
	"portal/internal/store"
)

// Options configure a Service.
type Options struct {
	DB      *store.DB
	Hasher  *authn.Hasher
	BaseURL string // public URL for links in mail, without trailing slash
	Logger  *slog.Logger
	Now     func() time.Time // injected clock; time.Now when nil
	// MailQueued is called after a transaction that queued mail commits, so
	// the worker can send at once.
	MailQueued func()
	// OnLogin observes login outcomes ("success", "failure", "throttled").
	OnLogin func(outcome string)
	// SecretBox seals secrets at rest (TOTP seeds) under PORTAL_SECRET_KEY.
	// When nil (tests), a box with a random key is made: its secrets do not
	// survive a restart.
	SecretBox *authn.SecretBox
	// Google is the OpenID Connect provider of "Sign in with Google"
	// (google.go); nil when PORTAL_GOOGLE_CLIENT_ID is unset.
	Google *oidclogin.Provider
	// DeviceTimeout is how long a device may report nothing before it is
	// marked disconnected (events.go); DefaultDeviceTimeout when zero.
	DeviceTimeout time.Duration
	// NotifyWindow is the digest window of e-mail notifications
	// (notifications.go); DefaultNotifyWindow when zero.
	NotifyWindow time.Duration
	// Operators are the addresses of PORTAL_OPERATORS: the accounts with
	// them are operators of the deployment (operator.go).
	Operators []string
}

// Service is the service layer.
type Service struct {
	db      *store.DB
	hasher  *authn.Hasher
	baseURL string
	log     *slog.Logger
	now     func() time.Time
	queued  func()
	onLogin func(string)
	box     *authn.SecretBox
	google  *oidclogin.Provider
	// operators: Options.Operators, by store.EmailKey (operator.go).
	operators map[string]bool
	// deviceTimeout: Options.DeviceTimeout.
	deviceTimeout time.Duration
	notify        notifier  // notifications.go
	auth          authCache // authcache.go
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{db: o.DB, hasher: o.Hasher, baseURL: o.BaseURL, log: o.Logger, now: o.Now, queued: o.MailQueued, onLogin: o.OnLogin, box: o.SecretBox, google: o.Google,
		deviceTimeout: o.DeviceTimeout, notify: newNotifier(o.NotifyWindow), operators: operatorSet(o.Operators)}
	if s.deviceTimeout <= 0 {
		s.deviceTimeout = DefaultDeviceTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hasher == nil {
		s.hasher = authn.DefaultHasher()
	}
	if s.queued == nil {
		s.queued = func() {}
	}
	if s.onLogin == nil {
		s.onLogin = func(string) {}
	}
	if s.box == nil {
		s.box = ephemeralSecretBox() // twofactor.go
	}
	s.auth.reads.Gather = authReadGather
	return s
}

// Actor is who makes a request: the signed-in user and where from.
type Actor struct {
	User    *portal.User
	Session *portal.Session // nil for API-token requests
	// APITokenID is the API token that authenticates the request ("" for
	// a session; see apitokens.go).
	APITokenID string
	// APITokenName is that token's name, which the audit entries of the
	// request's changes carry (audit_actor.go).
	APITokenName string
	IP           string
	// PasswordExpired: the password is older than the policy allows; the
	// actor may do nothing but change it (see Restriction).
	PasswordExpired bool
	// TwoFactor is the state of two-factor authentication for this actor
	// and session (twofactor.go), filled by Authenticate.
	TwoFactor TwoFactorState
	// facts are the user's standing read with the authentication, valid
	// while the process's write count is still factsAt (authcache.go).
	facts   *authFacts
	factsAt uint64
}

// Client describes the origin of an unauthenticated request.
type Client struct {
	IP        string
	UserAgent string
	// SessionToken is the session cookie the request came with, if any
	// (optional): a login replaces that session when it is the same user's.
	SessionToken string
}

func (s *Service) clock() time.Time { return s.now().UTC() }

func newID() string { return uuid.NewString() }

// write runs fn in a write transaction and wakes the mail worker afterwards
// when fn queued mail.
func (s *Service) write(ctx context.Context, fn func(tx *store.Tx, w *writer) error) error {
	w := &writer{s: s}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		w.tx = tx
		w.mails = 0
		return fn(tx, w)
	})
	if err == nil && w.mails > 0 {
		s.queued()
	}
	return err
}

// writer carries the helpers used inside one write transaction.
type writer struct {
	s     *Service
	tx    *store.Tx
	mails int
}

// audit records one audit entry in the transaction.
func (w *writer) audit(ctx context.Context, who *portal.User, ip, orgID, siteID, message string, before, after map[string]any) error {
	if orgID == "" {
		orgID = portal.NilID
	}
	if siteID == "" {
		siteID = portal.NilID
	}
	if err := w.tx.InsertAudit(ctx, &portal.AuditEntry{
		ID: newID(), Timestamp: w.s.clock(), AdminID: who.ID, AdminName: who.Name(),
		OrgID: orgID, SiteID: siteID, Message: message, Before: before, After: after, SrcIP: ip,
		APITokenName: apiTokenOf(ctx, who),
	}); err != nil {
		return err
	}
	return w.notifyAudit(ctx, orgID, siteID, message, before, after) // subscribers of the change (notifications.go)
}

// mail renders a template and queues the message in the transaction.
func (w *writer) mail(ctx context.Context, to, template string, data any) error {
	subject, text, html, err := mail.Render(template, data)
	if err != nil {
		return err
	}
	w.mails++
	return w.tx.EnqueueMail(ctx, &portal.OutboxMessage{ID: newID(), To: to, Subject: subject, Text: text, HTML: html, CreatedTime: w.s.clock()})
}

// link returns an absolute URL for path.
func (s *Service) link(path string) string { return s.baseURL + path }
