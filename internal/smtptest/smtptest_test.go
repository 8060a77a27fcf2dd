package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/smtp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const waitTimeout = 10 * time.Second

// send delivers raw with the standard library's SMTP client, independent of
// the go-mail client the application uses.
func send(addr string, auth smtp.Auth, from string, to []string, raw string) error {
	return smtp.SendMail(addr, auth, from, to, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

const plainMsg = `From: Portal <no-reply@localhost>
To: ann@example.com
Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe?= from Portal
Content-Type: text/plain; charset=utf-8

Hello, follow http://127.0.0.1:8080/verify?token=abc.
`

func TestServerReceives(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.URL(), "smtp://127.0.0.1:") || strings.Contains(s.URL(), "@") {
		t.Errorf("URL = %q", s.URL())
	}
	if err := send(s.Addr(), nil, "bounce@localhost", []string{"ann@example.com", "bob@example.com"}, plainMsg); err != nil {
		t.Fatal(err)
	}
	m := s.WaitFor(t, To("BOB@example.com"), waitTimeout)
	if m.MailFrom != "bounce@localhost" {
		t.Errorf("MailFrom = %q", m.MailFrom)
	}
	if strings.Join(m.To, ",") != "ann@example.com,bob@example.com" {
		t.Errorf("To = %v", m.To)
	}
	if m.From != "Portal <no-reply@localhost>" {
		t.Errorf("From = %q", m.From)
	}
	if m.Subject != "Grüße from Portal" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if got := FindLink(m.Text, "http://127.0.0.1:8080/verify"); got != "http://127.0.0.1:8080/verify?token=abc" {
		t.Errorf("FindLink = %q in %q", got, m.Text)
	}
	if m.HTML != "" {
		t.Errorf("HTML = %q", m.HTML)
	}
	if !strings.Contains(string(m.Raw), "Subject: =?UTF-8?q?") {
		t.Errorf("Raw is not the message as received:\n%s", m.Raw)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("Messages: %d, want 1", n)
	}
	s.Reset()
	if n := len(s.Messages()); n != 0 {
		t.Errorf("after Reset: %d messages", n)
	}
}

func TestServerAuth(t *testing.T) {
	s := Start(t, WithAuth("mailer", "s3cr:t@"))
	if !strings.HasPrefix(s.URL(), "smtp://mailer:s3cr%3At%40@127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	if err := send(s.Addr(), nil, "a@localhost", []string{"x@example.com"}, plainMsg); err == nil {
		t.Error("accepted mail without authentication")
	}
	if err := send(s.Addr(), smtp.PlainAuth("", "mailer", "wrong", "127.0.0.1"), "a@localhost", []string{"x@example.com"}, plainMsg); err == nil {
		t.Error("accepted a wrong password")
	}
	if err := send(s.Addr(), smtp.PlainAuth("", "mailer", "s3cr:t@", "127.0.0.1"), "a@localhost", []string{"x@example.com"}, plainMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestServerConcurrent(t *testing.T) {
	s := Start(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := fmt.Sprintf("u%d@example.com", i)
			errs <- send(s.Addr(), nil, "a@localhost", []string{to}, "Subject: m\n\nbody\n")
		}()
	}
	// Waits for a message that may not have arrived yet.
	s.WaitFor(t, To("u7@example.com"), waitTimeout)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(s.Messages()); got != n {
		t.Errorf("%d messages, want %d", got, n)
	}
}

// fatalTB records Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitForFailsWithoutMatch(t *testing.T) {
	s := Start(t)
	if err := send(s.Addr(), nil, "a@localhost", []string{"ann@example.com"}, "Subject: hi\n\nbody\n"); err != nil {
		t.Fatal(err)
	}
	s.WaitFor(t, nil, waitTimeout)

	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WaitFor(ft, To("nobody@example.com"), 50*time.Millisecond)
	}()
	<-done
	if !strings.Contains(ft.msg, "no matching message") || !strings.Contains(ft.msg, `subject "hi"`) {
		t.Errorf("Fatalf message = %q", ft.msg)
	}
}

func TestParseMessageMultipart(t *testing.T) {
	raw := `From: =?utf-8?q?Port=C3=A4l?= <no-reply@localhost>
To: ann@example.com
Subject: Verify
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Hello L=C3=A9e, open http://127.0.0.1:8080/verify?token=3Dabc&a=3Db and a ve=
ry long line.
--inner
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: base64

PHA+SGVsbG8gPGEgaHJlZj0iaHR0cDovLzEyNy4wLjAuMTo4MDgwL3ZlcmlmeSI+dmVyaWZ5PC9h
PjwvcD4=
--inner--
--outer
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAEC
--outer--
`
	m, err := ParseMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "Portäl <no-reply@localhost>" {
		t.Errorf("From = %q", m.From)
	}
	if m.Subject != "Verify" {
		t.Errorf("Subject = %q", m.Subject)
	}
	wantText := "Hello Lée, open http://127.0.0.1:8080/verify?token=abc&a=b and a very long line."
	if strings.TrimSpace(m.Text) != wantText {
		t.Errorf("Text = %q, want %q", m.Text, wantText)
	}
	if m.HTML != `<p>Hello <a href="http://127.0.0.1:8080/verify">verify</a></p>` {
		t.Errorf("HTML = %q", m.HTML)
	}
	if got := FindLink(m.Text, "http://127.0.0.1:8080/verify?"); got != "http://127.0.0.1:8080/verify?token=abc&a=b" {
		t.Errorf("FindLink = %q", got)
	}

	if _, err := ParseMessage([]byte("Subject: x\r\nContent-Type: multipart/alternative\r\n\r\nbody")); err == nil {
		t.Error("multipart without boundary: want error")
	}
	if _, err := ParseMessage([]byte("Subject: x\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nbody")); err == nil {
		t.Error("unknown transfer encoding: want error")
	}
}

func TestFindLink(t *testing.T) {
	text := `See <https://a.example/x>, then "http://127.0.0.1:8080/verify?token=abc".
Or http://127.0.0.1:8080/reset?t=1). And https://b.example/path.`
	tests := []struct{ prefix, want string }{
		{"", "https://a.example/x"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/verify?token=abc"},
		{"http://127.0.0.1:8080/reset", "http://127.0.0.1:8080/reset?t=1"},
		{"https://b.example", "https://b.example/path"},
		{"https://c.example", ""},
	}
	for _, tt := range tests {
		if got := FindLink(text, tt.prefix); got != tt.want {
			t.Errorf("FindLink(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// TestToFoldsASCIIOnly: To ignores the case of ASCII letters, and nothing
// else: a look-alike address is another recipient.
func TestToFoldsASCIIOnly(t *testing.T) {
	m := Message{To: []string{"kate@example.com"}}
	for addr, want := range map[string]bool{
		"kate@example.com":      true,
		"KATE@Example.COM":      true,
		"\u212Aate@example.com": false, // Kelvin sign
		"kate@example.co":       false,
		"k\u0430te@example.com": false, // Cyrillic a
		"kate@example.com.":     false,
	} {
		if got := To(addr)(m); got != want {
			t.Errorf("To(%q) matched %v, want %v", addr, got, want)
		}
	}
}

// TestServerRefusingModes: down (connections cut and refused), a reply to
// every MAIL FROM, a reply to one recipient; and back to accepting.
func TestServerRefusingModes(t *testing.T) {
	s := Start(t)
	msg := "Subject: m\n\nbody\n"
	s.RejectRcpt("Gone@example.com", 550)
	err := send(s.Addr(), nil, "a@localhost", []string{"gone@EXAMPLE.com"}, msg)
	if err == nil || !strings.HasPrefix(err.Error(), "550") {
		t.Errorf("rejected recipient: %v, want 550", err)
	}
	s.SetMailReply(451)
	if err := send(s.Addr(), nil, "a@localhost", []string{"ok@example.com"}, msg); err == nil || !strings.HasPrefix(err.Error(), "451") {
		t.Errorf("MAIL FROM while refusing: %v, want 451", err)
	}
	s.SetMailReply(0)
	s.SetDown(true)
	if err := send(s.Addr(), nil, "a@localhost", []string{"ok@example.com"}, msg); err == nil {
		t.Error("sent while down")
	}
	before := s.Connections()
	s.SetDown(false)
	s.RejectRcpt("gone@example.com", 0)
	for _, to := range []string{"ok@example.com", "gone@example.com"} {
		if err := send(s.Addr(), nil, "a@localhost", []string{to}, msg); err != nil {
			t.Errorf("to %s after the refusals ended: %v", to, err)
		}
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
	if got := s.Connections() - before; got != 2 {
		t.Errorf("%d connections counted, want 2", got)
	}
}

// TestServerTLS: with STARTTLS or implicit TLS, a client that trusts the
// test CA delivers over TLS (Message.TLS); one that does not trust it is
// refused in the handshake, and nothing is received.
func TestServerTLS(t *testing.T) {
	ca := NewCA(t, "Portal Test CA")
	cert := ca.Issue(t, "127.0.0.1", "mail.portal.test")
	if cert.Leaf.IPAddresses[0].String() != "127.0.0.1" || cert.Leaf.DNSNames[0] != "mail.portal.test" {
		t.Fatalf("issued for %v %v", cert.Leaf.IPAddresses, cert.Leaf.DNSNames)
	}
	trusting := x509.NewCertPool()
	if !trusting.AppendCertsFromPEM(ca.PEM()) {
		t.Fatal("CA.PEM holds no certificate")
	}
	other := x509.NewCertPool()
	other.AddCert(NewCA(t, "Other CA").Certificate())

	// dial opens an SMTP session over TLS with roots as the trusted CAs.
	dial := func(s *Server, implicit bool, roots *x509.CertPool) (*smtp.Client, error) {
		cfg := &tls.Config{ServerName: "127.0.0.1", RootCAs: roots, MinVersion: tls.VersionTLS12}
		if implicit {
			conn, err := tls.Dial("tcp", s.Addr(), cfg)
			if err != nil {
				return nil, err
			}
			return smtp.NewClient(conn, "127.0.0.1")
		}
		c, err := smtp.Dial(s.Addr())
		if err != nil {
			return nil, err
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			c.Close()
			return nil, fmt.Errorf("no STARTTLS offered")
		}
		if err := c.StartTLS(cfg); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	for _, tc := range []struct {
		name     string
		opt      Option
		implicit bool
		url      string
	}{
		{"STARTTLS", WithSTARTTLS(cert), false, "smtp://127.0.0.1:%d?starttls=on"},
		{"implicit", WithImplicitTLS(cert), true, "smtps://127.0.0.1:%d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, tc.opt)
			if want := fmt.Sprintf(tc.url, s.Port()); s.URL() != want {
				t.Errorf("URL = %q, want %q", s.URL(), want)
			}
			if _, err := dial(s, tc.implicit, other); err == nil {
				t.Error("the handshake succeeded with another CA")
			} else if !errors.As(err, new(x509.UnknownAuthorityError)) {
				t.Errorf("another CA: %v, want an unknown authority", err)
			}
			c, err := dial(s, tc.implicit, trusting)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Mail("a@localhost"); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("tls@example.com"); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(w, "Subject: over TLS\r\n\r\nbody\r\n")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			c.Quit()
			m := s.WaitFor(t, To("tls@example.com"), waitTimeout)
			if !m.TLS {
				t.Error("Message.TLS = false for a message sent over TLS")
			}
			if n := len(s.Messages()); n != 1 {
				t.Errorf("%d messages, want 1", n)
			}
		})
	}

	// Without TLS options a message arrives in the clear, and says so.
	s := Start(t)
	if err := send(s.Addr(), nil, "a@localhost", []string{"plain@example.com"}, "Subject: m\n\nbody\n"); err != nil {
		t.Fatal(err)
	}
	if m := s.WaitFor(t, To("plain@example.com"), waitTimeout); m.TLS {
		t.Error("Message.TLS = true for a message sent in the clear")
	}
}
