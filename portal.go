// Package portal holds Portal's domain types: users, organizations, sites,
// privileges, sessions, audit entries and the error type shared by every layer.
package portal

import (
	"errors"
	"fmt"
	"time"
)

// NilID is the nil UUID Mist uses where an id does not apply.
const NilID = "00000000-0000-0000-0000-000000000000"

// Error codes. Each maps to one HTTP status in the server package.
const (
	EINVALID      = "invalid"      // 400
	EUNAUTHORIZED = "unauthorized" // 401
	EFORBIDDEN    = "forbidden"    // 403
	ENOTFOUND     = "not_found"    // 404
	EMETHOD       = "method"       // 405
	ECONFLICT     = "conflict"     // 409
	ETOOMANY      = "too_many"     // 429
	EINTERNAL     = "internal"     // 500
	EUNAVAILABLE  = "unavailable"  // 503: the database is away, read-only or full
)

// UnavailableMessage is what a client reads when the database is away.
const UnavailableMessage = "the service is temporarily unavailable; please try again in a moment"

// Unavailable returns an EUNAVAILABLE error that keeps cause (for the log;
// errors.Is and errors.As see it).
func Unavailable(cause error) *Error {
	return &Error{Code: EUNAVAILABLE, Message: UnavailableMessage, RetryAfter: 5 * time.Second, Err: cause}
}

// Error is an application error whose Message is safe to show to the client.
type Error struct {
	Code       string
	Message    string
	RetryAfter time.Duration  // for ETOOMANY and EUNAVAILABLE
	Fields     map[string]any // extra fields for the JSON body (Mist allows them)
	Err        error          // the cause, for the log only (EUNAVAILABLE)
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("portal: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("portal: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Roles, with the names the GUI shows.
const (
	RoleAdmin     = "admin"
	RoleWrite     = "write"
	RoleRead      = "read"
	RoleHelpdesk  = "helpdesk"
	RoleInstaller = "installer"

	ScopeOrg  = "org"
	ScopeSite = "site"
)

// RoleNames maps Mist role values to the names shown in the GUI.
var RoleNames = map[string]string{
	RoleAdmin:     "Super User",
	RoleWrite:     "Network Admin",
	RoleRead:      "Observer",
	RoleHelpdesk:  "Helpdesk",
	RoleInstaller: "Installer",
}

// Limits on user input, documented in the README and the OpenAPI document.
const (
	MaxNameLen           = 64  // first/last name
	MaxOrgNameLen        = 64  // organization name
	MaxSiteNameLen       = 64  // site name
	MaxEmailLen          = 254 // RFC 5321 path limit
	MaxPasswordLen       = 32  // the product's limit (characters)
	MinPasswordLen       = 8   // when no policy is stricter
	MaxNotesLen          = 1000
	DefaultSessionExpiry = 1440 // minutes

	// The absolute lifetime of a session, in days from its login, whatever
	// its activity: an organization's session_max_lifetime (ours, not
	// Mist's), the shortest of the user's organizations.
	DefaultSessionMaxLifetime = 30
	MinSessionMaxLifetime     = 1
	MaxSessionMaxLifetime     = 90
)

type User struct {
	ID                   string
	Email                string
	FirstName            string
	LastName             string
	Phone                string
	Phone2               string
	PasswordHash         string
	EmailVerified        bool
	PasswordModifiedTime time.Time
	CreatedTime          time.Time
	ModifiedTime         time.Time

	// Display preferences.
	MACFormat string // one of format.MACFormats
	Hour24    bool
	Timezone  string // IANA name, default UTC

	// PasswordResetRequired is set after "this wasn't me": the account can
	// be used again only after a new password is set by recovery.
	PasswordResetRequired bool

	// DisabledTime is when an operator disabled the account (`portal user
	// disable`); zero while it is enabled. A disabled account cannot log
	// in or recover, and its sessions and API tokens are refused.
	DisabledTime time.Time
}

// Disabled reports whether an operator disabled the account.
func (u *User) Disabled() bool { return !u.DisabledTime.IsZero() }

// Name is the display name used in audit entries.
func (u *User) Name() string {
	n := u.FirstName
	if u.LastName != "" {
		if n != "" {
			n += " "
		}
		n += u.LastName
	}
	if n == "" {
		return u.Email
	}
	return n
}

type Org struct {
	ID            string
	Name          string
	SessionExpiry int // minutes
	// SessionMaxLifetime is in days (0 when creating: the default).
	SessionMaxLifetime int
	CreatedTime        time.Time
	ModifiedTime       time.Time
}

type Site struct {
	ID           string
	OrgID        string
	Name         string
	Timezone     string
	CountryCode  string
	Address      string
	Notes        string
	CreatedTime  time.Time
	ModifiedTime time.Time
}

// Privilege is one role of a user in an organization, or in one site of it.
type Privilege struct {
	ID       string
	UserID   string
	OrgID    string
	SiteID   string // empty for org scope
	Scope    string
	Role     string
	OrgName  string // filled on read
	SiteName string // filled on read for site scope
}

type Session struct {
	ID              string
	TokenHash       string
	UserID          string
	CSRFToken       string
	CreatedTime     time.Time
	LastSeenTime    time.Time
	ExpiresTime     time.Time
	AuthTime        time.Time // when the password was last given
	TwoFactorPassed bool
	PasswordOnly    bool // opened by a recovery link: may only set a new password
	IP              string
	UserAgent       string
}

// AuditEntry is one audit log row in the Mist audit_log shape.
type AuditEntry struct {
	ID        string
	Timestamp time.Time
	AdminID   string
	AdminName string
	OrgID     string // NilID when not org-related
	SiteID    string // NilID when not site-related
	Message   string
	Before    map[string]any
	After     map[string]any
	SrcIP     string
	// APITokenName names the API token the change was made with ("" for
	// a session).
	APITokenName string
}

// OutboxMessage is one e-mail waiting in the outbox.
type OutboxMessage struct {
	ID          string
	To          string
	Subject     string
	Text        string
	HTML        string
	Attempts    int
	CreatedTime time.Time
	// ListUnsubscribe is the one-click unsubscribe URL of a notification
	// mail (RFC 8058), sent as List-Unsubscribe; "" for other mail.
	ListUnsubscribe string
}

// MaxPageLimit is the most items a page of a list may hold.
const MaxPageLimit = 1000

// Page is a Mist-style page request (page counts from 1).
type Page struct {
	Limit int
	Page  int
}
