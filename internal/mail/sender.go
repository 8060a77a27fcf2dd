package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"portal"
)

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, m portal.OutboxMessage) error
}

// Deliverer is implemented by a Sender that may only record messages
// rather than deliver them: the worker then counts them as logged, not
// sent.
type Deliverer interface {
	Delivers() bool
}

// SendTimeout bounds connecting to the SMTP server and each SMTP command.
const SendTimeout = 10 * time.Second

// NewSender returns the Sender for smtpURL (PORTAL_SMTP_URL) with the given
// From address (PORTAL_MAIL_FROM). An empty smtpURL gives a sender that only
// logs the messages, links included, at Info level. See the package
// documentation for the URL forms. logger may be nil.
func NewSender(smtpURL, from string, logger *slog.Logger) (Sender, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fromAddr, err := parseFrom(from)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(smtpURL) == "" {
		logger.Info("mail: no SMTP URL configured; messages are logged, not sent", "from", fromAddr.String())
		return &logSender{logger: logger, from: fromAddr}, nil
	}
	cfg, err := parseSMTPURL(smtpURL)
	if err != nil {
		return nil, err
	}
	s, err := newSMTPSender(cfg, fromAddr, logger)
	if err != nil {
		return nil, err
	}
	if cfg.user != "" && cfg.security == securityNone && !cfg.loopback {
		logger.Warn("mail: SMTP credentials are sent without TLS (starttls=off)", "host", cfg.host)
	}
	logger.Info("mail: sending through SMTP", "server", cfg.String(), "from", fromAddr.String())
	return s, nil
}

func parseFrom(from string) (*netmail.Address, error) {
	if strings.TrimSpace(from) == "" {
		return nil, errors.New("mail: from address is empty")
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: invalid from address %q: %w", from, err)
	}
	return a, nil
}

// security is how the SMTP connection is protected.
type security int

const (
	securityStartTLS security = iota // smtp://, STARTTLS required
	securityImplicit                 // smtps://
	securityNone                     // loopback or ?starttls=off
)

func (s security) String() string {
	switch s {
	case securityStartTLS:
		return "STARTTLS required"
	case securityImplicit:
		return "implicit TLS"
	default:
		return "no TLS"
	}
}

// smtpConfig is a parsed PORTAL_SMTP_URL.
type smtpConfig struct {
	host       string
	port       int
	security   security
	loopback   bool
	user, pass string
}

// String describes the configuration without the password.
func (c smtpConfig) String() string {
	var b strings.Builder
	if c.security == securityImplicit {
		b.WriteString("smtps://")
	} else {
		b.WriteString("smtp://")
	}
	if c.user != "" {
		b.WriteString(url.User(c.user).String())
		b.WriteString("@")
	}
	b.WriteString(net.JoinHostPort(c.host, strconv.Itoa(c.port)))
	b.WriteString(" (" + c.security.String() + ")")
	return b.String()
}

func parseSMTPURL(raw string) (smtpConfig, error) {
	var c smtpConfig
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error repeats the URL, which may contain a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return c, fmt.Errorf("mail: invalid SMTP URL: %w", err)
	}
	switch u.Scheme {
	case "smtp":
		c.security, c.port = securityStartTLS, 587
	case "smtps":
		c.security, c.port = securityImplicit, 465
	case "":
		return c, errors.New("mail: invalid SMTP URL: missing scheme (want smtp:// or smtps://)")
	default:
		return c, fmt.Errorf("mail: invalid SMTP URL: unsupported scheme %q (want smtp or smtps)", u.Scheme)
	}
	if u.Opaque != "" {
		return c, errors.New("mail: invalid SMTP URL: want smtp://host:port")
	}
	c.host = u.Hostname()
	if c.host == "" {
		return c, errors.New("mail: invalid SMTP URL: missing host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("mail: invalid SMTP URL: bad port %q", p)
		}
		c.port = n
	}
	if u.Path != "" && u.Path != "/" {
		return c, fmt.Errorf("mail: invalid SMTP URL: unexpected path %q", u.Path)
	}
	if u.Fragment != "" {
		return c, errors.New("mail: invalid SMTP URL: unexpected fragment")
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		if c.user == "" {
			return c, errors.New("mail: invalid SMTP URL: password without user name")
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return c, fmt.Errorf("mail: invalid SMTP URL query: %w", err)
	}
	for k, v := range q {
		if k != "starttls" {
			return c, fmt.Errorf("mail: invalid SMTP URL: unknown parameter %q (only starttls=off is supported)", k)
		}
		if len(v) != 1 {
			return c, errors.New("mail: invalid SMTP URL: starttls given more than once")
		}
		if c.security == securityImplicit {
			return c, errors.New("mail: invalid SMTP URL: starttls applies only to smtp://, not smtps://")
		}
		switch strings.ToLower(v[0]) {
		case "off", "false", "0", "no":
			c.security = securityNone
		case "on", "true", "1", "yes", "":
		default:
			return c, fmt.Errorf("mail: invalid SMTP URL: starttls=%q (want off or on)", v[0])
		}
	}
	c.loopback = isLoopback(c.host)
	if c.loopback && c.security == securityStartTLS {
		c.security = securityNone
	}
	return c, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// logSender logs messages instead of sending them.
type logSender struct {
	logger *slog.Logger
	from   *netmail.Address
}

// Delivers is false: messages are only logged.
func (s *logSender) Delivers() bool { return false }

func (s *logSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	s.logger.InfoContext(ctx, "mail: not sent (no SMTP URL configured)",
		"id", m.ID,
		"from", s.from.String(),
		"to", m.To,
		"subject", m.Subject,
		"has_html", m.HTML != "",
		"text", m.Text,
	)
	return nil
}

// smtpSender sends each message on its own connection.
type smtpSender struct {
	cfg        smtpConfig
	opts       []gomail.Option
	from       *netmail.Address
	fromDomain string
}

func newSMTPSender(cfg smtpConfig, from *netmail.Address, logger *slog.Logger) (*smtpSender, error) {
	opts := []gomail.Option{
		gomail.WithPort(cfg.port),
		gomail.WithTimeout(SendTimeout),
	}
	switch cfg.security {
	case securityStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case securityImplicit:
		opts = append(opts, gomail.WithSSL())
	case securityNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.user != "" {
		// go-mail's PLAIN refuses to send credentials over a connection that is not
		// encrypted unless the host is named exactly localhost/127.0.0.1/::1;
		// without TLS (loopback or an explicit starttls=off) say so explicitly.
		auth := gomail.SMTPAuthPlain
		if cfg.security == securityNone {
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts,
			gomail.WithSMTPAuth(auth),
			gomail.WithUsername(cfg.user),
			gomail.WithPassword(cfg.pass),
		)
	}
	s := &smtpSender{cfg: cfg, opts: opts, from: from, fromDomain: "localhost"}
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && i+1 < len(from.Address) {
		s.fromDomain = from.Address[i+1:]
	}
	// Validate the options once, so a bad configuration fails at start-up.
	if _, err := gomail.NewClient(cfg.host, opts...); err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	return s, nil
}

func (s *smtpSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	// A new client per message: no shared connection state, so Send is safe
	// for concurrent use and a broken connection never outlives one message.
	c, err := gomail.NewClient(s.cfg.host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: SMTP client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s via %s:%d: %w", m.To, s.cfg.host, s.cfg.port, err)
	}
	return nil
}

func (s *smtpSender) build(m portal.OutboxMessage) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail: invalid recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// A Message-ID derived from the outbox id is the same on every retry, so a
	// message delivered twice (at-least-once) can be recognised as a duplicate.
	msg.SetMessageIDWithValue(messageIDLocal(m.ID) + "@" + s.fromDomain)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// messageIDLocal returns id if it is safe in a Message-ID, else a random value.
func messageIDLocal(id string) string {
	ok := id != "" && len(id) <= 64
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			ok = false
			break
		}
	}
	if ok {
		return "outbox." + id
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
