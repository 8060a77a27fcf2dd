package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"portal"
)

// Sender delivers one message. It must be safe for concurrent use: the
// Worker sends several messages at once. A failure should be a
// *DeliveryError, which says whether the message or the server is at
// fault; any other error counts as a temporary failure of the message.
type Sender interface {
	Send(ctx context.Context, m portal.OutboxMessage) error
}

// Kind says whose fault a failed delivery is, and so what the Worker does.
type Kind int

const (
	// Temporary: the server refused this message for now (a 4xx reply to
	// its recipient or its content). The attempt counts; it is retried
	// with exponential back-off, up to WorkerOptions.MaxAttempts.
	Temporary Kind = iota
	// Permanent: the server refused this message for good (a 5xx reply to
	// its recipient or its content), or it cannot be built. It is marked
	// failed at once and never retried.
	Permanent
	// ServerFailure: the server, not the message: no connection, no
	// greeting, a refused login or MAIL FROM, 421, a connection lost. The
	// attempt does not count; the Worker pauses sending for all messages
	// and retries with back-off, so an outage never uses up the attempts
	// of the queued mail.
	ServerFailure
)

func (k Kind) String() string {
	switch k {
	case Permanent:
		return "permanent"
	case ServerFailure:
		return "server"
	default:
		return "temporary"
	}
}

// DeliveryError is a failed delivery and whose fault it is.
type DeliveryError struct {
	Kind Kind
	Err  error
}

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// KindOf returns the Kind of a Sender's error: that of a *DeliveryError
// in its chain, else Temporary.
func KindOf(err error) Kind {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Kind
	}
	return Temporary
}

// Deliverer is implemented by a Sender that may only record messages
// rather than deliver them: the worker then counts them as logged, not
// sent.
type Deliverer interface {
	Delivers() bool
}

// SendTimeout bounds connecting to the SMTP server and each SMTP command.
const SendTimeout = 10 * time.Second

// SenderOption changes the Sender that NewSender returns.
type SenderOption func(*senderOptions)

type senderOptions struct {
	extraCAs []*x509.Certificate
}

// WithExtraRootCAs makes the SMTP sender trust certs (the CAs of
// PORTAL_SMTP_CA_FILE, a private CA) for the server's certificate, in
// addition to the system's roots. The certificate is verified either way;
// NewSender refuses the option without an SMTP URL that uses TLS, where
// it would do nothing.
func WithExtraRootCAs(certs ...*x509.Certificate) SenderOption {
	return func(o *senderOptions) {
		o.extraCAs = append(o.extraCAs, certs...)
	}
}

// NewSender returns the Sender for smtpURL (PORTAL_SMTP_URL) with the given
// From address (PORTAL_MAIL_FROM). An empty smtpURL gives a sender that only
// logs the messages, links included, at Info level. See the package
// documentation for the URL forms. logger may be nil.
func NewSender(smtpURL, from string, logger *slog.Logger, options ...SenderOption) (Sender, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var o senderOptions
	for _, opt := range options {
		opt(&o)
	}
	fromAddr, err := parseFrom(from)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(smtpURL) == "" {
		if len(o.extraCAs) > 0 {
			return nil, errors.New("mail: PORTAL_SMTP_CA_FILE is set, but PORTAL_SMTP_URL is not")
		}
		logger.Info("mail: no SMTP URL configured; messages are logged, not sent", "from", fromAddr.String())
		return &logSender{logger: logger, from: fromAddr}, nil
	}
	cfg, err := parseSMTPURL(smtpURL)
	if err != nil {
		return nil, err
	}
	if len(o.extraCAs) > 0 {
		if cfg.security == securityNone {
			return nil, fmt.Errorf("mail: PORTAL_SMTP_CA_FILE is set, but the SMTP URL %s uses no TLS, so its CAs would never be used: use smtps://, or smtp:// with STARTTLS (without starttls=off; to a loopback host, with ?starttls=on)", cfg)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("mail: the system's root certificates: %w", err)
		}
		for _, c := range o.extraCAs {
			pool.AddCert(c)
		}
		cfg.roots = pool
	}
	s, err := newSMTPSender(cfg, fromAddr, logger)
	if err != nil {
		return nil, err
	}
	if cfg.user != "" && cfg.security == securityNone && !cfg.loopback {
		logger.Warn("mail: SMTP credentials are sent without TLS (starttls=off)", "host", cfg.host)
	}
	logger.Info("mail: sending through SMTP", "server", cfg.String(), "from", fromAddr.String(), "extra_cas", len(o.extraCAs))
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

// smtpConfig is a parsed PORTAL_SMTP_URL, and the roots its TLS trusts.
type smtpConfig struct {
	host       string
	port       int
	security   security
	loopback   bool
	user, pass string
	// roots verify the server's certificate: nil, the system's; with
	// WithExtraRootCAs, the system's and those.
	roots *x509.CertPool
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
	startTLSOn := false // asked for explicitly
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
			startTLSOn = true
		default:
			return c, fmt.Errorf("mail: invalid SMTP URL: starttls=%q (want off or on)", v[0])
		}
	}
	c.loopback = isLoopback(c.host)
	if c.loopback && c.security == securityStartTLS && !startTLSOn {
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

// Connection pool defaults of the SMTP sender.
const (
	// PoolSize bounds the SMTP connections open at once; it is also how
	// many messages are sent at once.
	PoolSize = 4
	// IdleTimeout closes a connection that has not been used for so long,
	// before a server does (they commonly wait a few minutes).
	IdleTimeout = 30 * time.Second
	// MessagesPerConn bounds the messages sent on one connection before
	// it is closed and a new one opened (many servers limit a session).
	MessagesPerConn = 100
)

// smtpSender sends messages over a small pool of SMTP connections: a
// connection carries several messages, one after the other, with an RSET
// before each reuse (which also checks that the server still answers); one
// that fails in any way is closed, and the next message opens a new one.
// It is safe for concurrent use; at most PoolSize connections are open.
type smtpSender struct {
	cfg        smtpConfig
	client     *gomail.Client // the settings; dials each connection
	tlsConfig  *tls.Config    // the client's, for STARTTLS and smtps://
	from       *netmail.Address
	fromDomain string
	logger     *slog.Logger

	slots    chan struct{} // one per open connection
	returned chan struct{} // signalled when a connection goes back to idle
	mu       sync.Mutex
	idle     []*smtpConn // most recently used last
	reaper   *time.Timer // closes connections idle for idleTimeout
	closed   bool
	// idleTimeout is IdleTimeout (tests shorten it).
	idleTimeout time.Duration
	dials       int // connections opened, for tests
}

type smtpConn struct {
	c         *smtp.Client
	sent      int
	idleSince time.Time
}

func newSMTPSender(cfg smtpConfig, from *netmail.Address, logger *slog.Logger) (*smtpSender, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.port),
		gomail.WithTimeout(SendTimeout),
		// The pool checks a reused connection with RSET instead, and sends
		// it before the next message rather than after each one, so that
		// Send returns as soon as the server has accepted the message.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	// The server's certificate is always verified, for the URL's host,
	// against the system's roots (and a CA file's, cfg.roots).
	tlsConfig := &tls.Config{ServerName: cfg.host, MinVersion: tls.VersionTLS12, RootCAs: cfg.roots}
	opts = append(opts, gomail.WithTLSConfig(tlsConfig))
	switch cfg.security {
	case securityStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case securityImplicit:
		opts = append(opts, gomail.WithSSL())
	case securityNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.security != securityImplicit {
		opts = append(opts, gomail.WithDialContextFunc(trackedDial))
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
	// Validate the options once, so a bad configuration fails at start-up.
	client, err := gomail.NewClient(cfg.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	s := &smtpSender{cfg: cfg, client: client, tlsConfig: tlsConfig, from: from, fromDomain: "localhost", logger: logger,
		slots: make(chan struct{}, PoolSize), returned: make(chan struct{}, 1), idleTimeout: IdleTimeout}
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && i+1 < len(from.Address) {
		s.fromDomain = from.Address[i+1:]
	}
	return s, nil
}

// Send delivers m on a pooled connection. It returns nil as soon as the
// server has accepted the message (its reply to the end of DATA), and
// otherwise a *DeliveryError saying whose fault the failure is.
func (s *smtpSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	msg, err := s.build(m)
	if err != nil {
		return &DeliveryError{Kind: Permanent, Err: err}
	}
	conn, err := s.get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &DeliveryError{Kind: ServerFailure, Err: fmt.Errorf("mail: connect to %s:%d: %w", s.cfg.host, s.cfg.port, err)}
	}
	// Once begun, a transaction is not cut short by ctx (each command is
	// bounded by SendTimeout): cutting it after the message went out would
	// lose the server's answer and send the message twice.
	err = s.client.SendWithSMTPClient(conn.c, msg)
	if err == nil || msg.IsDelivered() {
		conn.sent++
		s.put(conn)
		return nil
	}
	s.discard(conn)
	return classify(fmt.Errorf("mail: send to %s via %s:%d: %w", m.To, s.cfg.host, s.cfg.port, err))
}

// classify tells a failure of this message (a reply to its RCPT TO, or to
// the end of its DATA: 4xx temporary, 5xx permanent) from a failure of the
// server or the connection (no reply at all, 421, a refused MAIL FROM, a
// broken connection), which says nothing about the message.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch {
		case code == 421 || code < 400 || code >= 600:
		case se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPDataClose:
			if code >= 500 {
				return &DeliveryError{Kind: Permanent, Err: err}
			}
			return &DeliveryError{Kind: Temporary, Err: err}
		}
	}
	return &DeliveryError{Kind: ServerFailure, Err: err}
}

// get returns an idle connection that still answers RSET, or a new one
// when fewer than PoolSize are open; it waits for one otherwise.
func (s *smtpSender) get(ctx context.Context) (*smtpConn, error) {
	for {
		s.mu.Lock()
		if n := len(s.idle); n > 0 {
			c := s.idle[n-1]
			s.idle = s.idle[:n-1]
			s.mu.Unlock()
			if c.c.UpdateDeadline(SendTimeout) == nil && c.c.Reset() == nil {
				return c, nil
			}
			s.discard(c) // gone stale: the server closed it
			continue
		}
		s.mu.Unlock()
		select {
		case s.slots <- struct{}{}:
			var raw net.Conn
			c, err := s.client.DialToSMTPClientWithContext(context.WithValue(ctx, dialedKey{}, &raw))
			if err != nil {
				// go-mail leaves the connection open when EHLO or STARTTLS
				// fails (a server without the required STARTTLS, say).
				if raw != nil {
					raw.Close()
				}
				<-s.slots
				return nil, err
			}
			s.mu.Lock()
			s.dials++
			s.mu.Unlock()
			return &smtpConn{c: c}, nil
		case <-s.returned:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dialedKey is the context key under which trackedDial records the
// connection it opened.
type dialedKey struct{}

// trackedDial dials TCP and records the connection in the *net.Conn found
// in ctx, so that get can close it when the session fails to start.
func trackedDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if p, ok := ctx.Value(dialedKey{}).(*net.Conn); ok && err == nil {
		*p = c
	}
	return c, err
}

// put makes c idle, or closes it when it has carried MessagesPerConn
// messages or the sender is closed.
func (s *smtpSender) put(c *smtpConn) {
	s.mu.Lock()
	if s.closed || c.sent >= MessagesPerConn {
		s.mu.Unlock()
		s.quit(c)
		return
	}
	c.idleSince = time.Now()
	s.idle = append(s.idle, c)
	if s.reaper == nil {
		s.reaper = time.AfterFunc(s.idleTimeout, s.reap)
	}
	s.mu.Unlock()
	select {
	case s.returned <- struct{}{}:
	default:
	}
}

// reap closes the connections idle for idleTimeout.
func (s *smtpSender) reap() {
	s.mu.Lock()
	now := time.Now()
	var old, keep []*smtpConn
	for _, c := range s.idle {
		if now.Sub(c.idleSince) >= s.idleTimeout {
			old = append(old, c)
		} else {
			keep = append(keep, c)
		}
	}
	s.idle = keep
	s.reaper = nil
	if len(keep) > 0 {
		s.reaper = time.AfterFunc(s.idleTimeout-now.Sub(keep[0].idleSince), s.reap)
	}
	s.mu.Unlock()
	for _, c := range old {
		s.quit(c)
	}
}

// quit ends a healthy connection politely (QUIT) and frees its slot.
func (s *smtpSender) quit(c *smtpConn) {
	_ = c.c.UpdateDeadline(2 * time.Second)
	_ = c.c.Quit()
	s.discard(c)
}

// discard closes a connection and frees its slot.
func (s *smtpSender) discard(c *smtpConn) {
	_ = c.c.Close()
	<-s.slots
}

// Close closes the idle connections; connections in use are closed when
// their message is done. The sender must not be used afterwards.
func (s *smtpSender) Close() error {
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	if s.reaper != nil {
		s.reaper.Stop()
		s.reaper = nil
	}
	s.mu.Unlock()
	for _, c := range idle {
		s.quit(c)
	}
	return nil
}

// openConns reports the connections open (idle or in use) and dialled in
// all, for tests.
func (s *smtpSender) openConns() (open, idle, dials int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.slots), len(s.idle), s.dials
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
	if m.ListUnsubscribe != "" {
		// One-click unsubscribe (RFC 8058): the mail client POSTs
		// List-Unsubscribe=One-Click to the URL.
		msg.SetGenHeader("List-Unsubscribe", "<"+m.ListUnsubscribe+">")
		msg.SetGenHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
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
