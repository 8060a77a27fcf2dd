package smtptest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Option configures a Server started by Start.
type Option func(*config)

type config struct {
	user, pass string
	auth       bool
	tls        *tls.Config // with STARTTLS or implicit TLS
	implicit   bool        // TLS from the first byte (smtps://)
}

// WithAuth makes the server require SMTP AUTH PLAIN with the given
// credentials before it accepts MAIL, RCPT or DATA. Authentication is allowed
// without TLS. URL then carries the credentials.
func WithAuth(user, pass string) Option {
	return func(c *config) {
		c.user, c.pass, c.auth = user, pass, true
	}
}

// WithSTARTTLS makes the server offer STARTTLS with cert (one that a CA
// of NewCA issued, say). URL then ends in ?starttls=on, which makes
// Portal's sender require STARTTLS even though the host is loopback.
// Mail is still accepted without TLS from a client that does not ask.
func WithSTARTTLS(cert tls.Certificate) Option {
	return func(c *config) {
		c.tls, c.implicit = serverTLS(cert), false
	}
}

// WithImplicitTLS makes the server speak TLS from the first byte with
// cert, as on port 465; URL then is smtps://.
func WithImplicitTLS(cert tls.Certificate) Option {
	return func(c *config) {
		c.tls, c.implicit = serverTLS(cert), true
	}
}

func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// Server is a running in-process SMTP server. It is safe for concurrent use.
type Server struct {
	cfg  config
	srv  *smtp.Server
	addr *net.TCPAddr

	mu     sync.Mutex
	cond   *sync.Cond
	msgs   []Message
	resets int // incremented by Reset, so WaitFor rescans from the start
	closed bool

	// Refusing modes (see SetDown, SetMailReply, RejectRcpt).
	down      bool
	live      map[net.Conn]struct{} // open client connections
	mailReply int                   // when set, the reply to every MAIL FROM
	rcptReply map[string]int        // lower-cased address → reply to its RCPT TO
	sessions  int                   // SMTP connections accepted (and not refused as down)
}

// Start starts a server on 127.0.0.1 on a free port. It is shut down by
// t.Cleanup when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{}
	s.cond = sync.NewCond(&s.mu)
	for _, o := range opts {
		o(&s.cfg)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = ln.Addr().(*net.TCPAddr)
	s.live = map[net.Conn]struct{}{}
	s.rcptReply = map[string]int{}
	ln = &gateListener{Listener: ln, s: s}
	if s.cfg.implicit {
		ln = tls.NewListener(ln, s.cfg.tls)
	}

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	if !s.cfg.implicit {
		srv.TLSConfig = s.cfg.tls // nil: no STARTTLS
	}
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	// The server may log after the test has finished, when t.Log panics.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// Serve may not have registered ln yet, in which case Close missed it.
		_ = ln.Close()
		<-done
		s.mu.Lock()
		s.closed = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	return s
}

// gateListener closes connections at once while the server is down, and
// keeps track of the open ones so that SetDown can cut them.
type gateListener struct {
	net.Listener
	s *Server
}

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		down := l.s.down
		if !down {
			l.s.live[c] = struct{}{}
			l.s.sessions++
		}
		l.s.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		return &trackedConn{Conn: c, s: l.s}, nil
	}
}

type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.live, c.Conn)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// SetDown(true) makes the server behave as one that crashed: open
// connections are cut and new ones closed as soon as they are accepted,
// before the greeting. SetDown(false) serves again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	var cut []net.Conn
	if down {
		for c := range s.live {
			cut = append(cut, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

// SetMailReply makes the server answer every MAIL FROM with code (say 421
// or 451: the server refuses to take mail for now; 0 accepts again).
func (s *Server) SetMailReply(code int) {
	s.mu.Lock()
	s.mailReply = code
	s.mu.Unlock()
}

// RejectRcpt makes the server answer RCPT TO addr (ignoring the case of
// ASCII letters) with code, say 550 (no such user: permanent) or 451
// (try again later); 0 accepts the address again.
func (s *Server) RejectRcpt(addr string, code int) {
	s.mu.Lock()
	if code == 0 {
		delete(s.rcptReply, lowerASCII(addr))
	} else {
		s.rcptReply[lowerASCII(addr)] = code
	}
	s.mu.Unlock()
}

// Connections reports how many SMTP connections the server has accepted
// (those closed at once while down are not counted).
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Open reports how many client connections are open now.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

func refusal(code int, what string) error {
	class := code / 100
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, 0, 0}, Message: "smtptest: " + what}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Addr returns the server's address, 127.0.0.1:PORT.
func (s *Server) Addr() string { return s.addr.String() }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.addr.Port }

// URL returns smtp://127.0.0.1:PORT, with user:pass@ when the server was
// started WithAuth; with ?starttls=on when it was started WithSTARTTLS, and
// smtps:// WithImplicitTLS.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.addr.Port))}
	if s.cfg.auth {
		u.User = url.UserPassword(s.cfg.user, s.cfg.pass)
	}
	switch {
	case s.cfg.implicit:
		u.Scheme = "smtps"
	case s.cfg.tls != nil:
		u.RawQuery = "starttls=on"
	}
	return u.String()
}

// Messages returns a copy of the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// Reset forgets the messages received so far.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
	s.resets++
	s.cond.Broadcast()
}

// WaitFor returns the first received message (already received or arriving
// later) for which match returns true. A nil match matches any message. If
// none arrives within timeout, WaitFor fails the test with t.Fatalf, listing
// what was received. It must be called from the test's goroutine.
func (s *Server) WaitFor(t testing.TB, match func(Message) bool, timeout time.Duration) Message {
	t.Helper()
	if match == nil {
		match = func(Message) bool { return true }
	}
	deadline := time.Now().Add(timeout)
	expired := false
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		expired = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()

	s.mu.Lock()
	checked, resets := 0, s.resets
	for {
		for ; checked < len(s.msgs); checked++ {
			if match(s.msgs[checked]) {
				m := s.msgs[checked]
				s.mu.Unlock()
				return m
			}
		}
		if expired || s.closed || !time.Now().Before(deadline) {
			break
		}
		s.cond.Wait()
		if s.resets != resets {
			checked, resets = 0, s.resets
		}
	}
	summary := summarize(s.msgs)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		t.Fatalf("smtptest: server closed before a matching message arrived; received %s", summary)
	} else {
		t.Fatalf("smtptest: no matching message within %v; received %s", timeout, summary)
	}
	return Message{}
}

func summarize(msgs []Message) string {
	if len(msgs) == 0 {
		return "no messages"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d message(s):", len(msgs))
	for _, m := range msgs {
		fmt.Fprintf(&b, " [to %s, subject %q]", strings.Join(m.To, ","), m.Subject)
	}
	return b.String()
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.cond.Broadcast()
	s.mu.Unlock()
}

// To returns a WaitFor condition matching messages with addr among the
// envelope recipients, compared ignoring the case of ASCII letters only:
// Unicode case folding would take a look-alike address (a Kelvin sign for
// a K) for the one it imitates, the confusion Portal refuses.
func To(addr string) func(Message) bool {
	return func(m Message) bool {
		for _, r := range m.To {
			if asciiEqualFold(r, addr) {
				return true
			}
		}
		return false
	}
}

// session implements smtp.Session and smtp.AuthSession.
type session struct {
	s        *Server
	conn     *smtp.Conn
	authed   bool
	mailFrom string
	rcpts    []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if !ss.s.cfg.auth {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if !ss.s.cfg.auth {
		return nil, smtp.ErrAuthUnsupported
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return errors.New("identity differs from username")
		}
		if username != ss.s.cfg.user || password != ss.s.cfg.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) checkAuth() error {
	if ss.s.cfg.auth && !ss.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := ss.checkAuth(); err != nil {
		return err
	}
	ss.s.mu.Lock()
	code := ss.s.mailReply
	ss.s.mu.Unlock()
	if code != 0 {
		return refusal(code, "not taking mail now")
	}
	ss.mailFrom = from
	ss.rcpts = nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.checkAuth(); err != nil {
		return err
	}
	ss.s.mu.Lock()
	code := ss.s.rcptReply[lowerASCII(to)]
	ss.s.mu.Unlock()
	if code != 0 {
		return refusal(code, "recipient refused")
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if err := ss.checkAuth(); err != nil {
		return err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := ParseMessage(raw)
	if err != nil {
		return &smtp.SMTPError{
			Code:         554,
			EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message:      "smtptest: cannot parse message: " + err.Error(),
		}
	}
	m.MailFrom = ss.mailFrom
	m.To = append([]string(nil), ss.rcpts...)
	_, m.TLS = ss.conn.TLSConnectionState()
	ss.s.add(m)
	return nil
}

func (ss *session) Reset() {
	ss.mailFrom = ""
	ss.rcpts = nil
}

func (ss *session) Logout() error { return nil }

// asciiEqualFold reports whether a and b are equal once ASCII letters are
// lower-cased; any other byte must match exactly.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
