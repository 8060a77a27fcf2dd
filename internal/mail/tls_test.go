package mail_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/config"
	"portal/internal/mail"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// attemptsSender passes each message to a Sender and records the attempt
// number the outbox handed it with.
type attemptsSender struct {
	mail.Sender
	attempts []int
}

func (s *attemptsSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	s.attempts = append(s.attempts, m.Attempts)
	return s.Sender.Send(ctx, m)
}

// TestSMTPCAFile: an SMTP server whose certificate comes from a private
// CA, over STARTTLS (smtp://…?starttls=on) and implicit TLS (smtps://).
// With PORTAL_SMTP_CA_FILE naming that CA, the outbox's mail is delivered
// over TLS; without it, or with a file of another CA, the certificate is
// refused in the handshake, nothing reaches the server, and the mail stays
// in the outbox, its attempt not counted (the server's fault), until a
// sender that trusts the CA delivers it. A certificate of the right CA for
// another host is refused too. On both databases.
func TestSMTPCAFile(t *testing.T) {
	transports := []struct {
		name string
		opt  func(cert tls.Certificate) smtptest.Option
	}{
		{"STARTTLS", smtptest.WithSTARTTLS},
		{"smtps", smtptest.WithImplicitTLS},
	}
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		for _, tr := range transports {
			t.Run(tr.name, func(t *testing.T) {
				ca, other := smtptest.NewCA(t, "Private CA"), smtptest.NewCA(t, "Other CA")
				srv := smtptest.Start(t, tr.opt(ca.Issue(t, "127.0.0.1")))
				db := testenv.OpenDB(t, d)
				clock := testenv.NewClock(time.Now().UTC().Truncate(time.Millisecond))
				ctx := context.Background()

				// sender is what portal serve builds from its settings.
				sender := func(caPEM []byte) mail.Sender {
					t.Helper()
					vars := map[string]string{"PORTAL_SMTP_URL": srv.URL(), "PORTAL_DATA_DIR": t.TempDir()}
					if caPEM != nil {
						vars["PORTAL_SMTP_CA_FILE"] = filepath.Join(t.TempDir(), "ca.pem")
						if err := os.WriteFile(vars["PORTAL_SMTP_CA_FILE"], caPEM, 0o644); err != nil {
							t.Fatal(err)
						}
					}
					cfg, err := config.Load(nil, func(k string) string { return vars[k] }, io.Discard)
					if err != nil {
						t.Fatal(err)
					}
					s, err := mail.NewSender(cfg.SMTPURL, cfg.MailFrom, nil, mail.WithExtraRootCAs(cfg.SMTPCAs...))
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
				enqueue := func(to string) {
					t.Helper()
					err := db.Write(ctx, func(tx *store.Tx) error {
						return tx.EnqueueMail(ctx, &portal.OutboxMessage{ID: uuid.NewString(), To: to, Subject: "Verify", Text: "Hello", CreatedTime: clock.Now()})
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				pending := func() int {
					t.Helper()
					n, err := db.PendingMail(ctx)
					if err != nil {
						t.Fatal(err)
					}
					return n
				}
				runOnce := func(s mail.Sender) (sent, failed int) {
					t.Helper()
					w := mail.NewWorker(store.Outbox{DB: db, Instance: "test"}, s, nil, clock.Now, mail.WorkerOptions{})
					sent, failed, err := w.RunOnce(ctx)
					if err != nil {
						t.Fatal(err)
					}
					return sent, failed
				}

				// (1) The CA file: delivered, over TLS.
				enqueue("ann@example.com")
				if sent, failed := runOnce(sender(ca.PEM())); sent != 1 || failed != 0 {
					t.Fatalf("with the CA file: sent %d, failed %d; want 1, 0", sent, failed)
				}
				if m := srv.WaitFor(t, smtptest.To("ann@example.com"), 10*time.Second); !m.TLS {
					t.Error("delivered without TLS")
				}
				if n := pending(); n != 0 {
					t.Errorf("%d mails pending after the delivery", n)
				}

				// (2) No CA file, (3) another CA's: the certificate is refused.
				for _, tc := range []struct {
					name string
					pem  []byte
				}{{"no CA file", nil}, {"another CA", other.PEM()}} {
					s, before := sender(tc.pem), len(srv.Messages())
					err := s.Send(ctx, portal.OutboxMessage{ID: "direct", To: "x@example.com", Subject: "s", Text: "t"})
					if !errors.As(err, new(x509.UnknownAuthorityError)) || mail.KindOf(err) != mail.ServerFailure {
						t.Errorf("%s: Send = %v (kind %v), want a server failure for an unknown authority", tc.name, err, mail.KindOf(err))
					}
					enqueue("bob@example.com")
					if sent, failed := runOnce(s); sent != 0 || failed != 0 {
						t.Errorf("%s: sent %d, failed %d; want the mail released, neither sent nor failed", tc.name, sent, failed)
					}
					if n := pending(); n != 1 {
						t.Errorf("%s: %d mails pending, want 1 kept for retry", tc.name, n)
					}
					if n := len(srv.Messages()); n != before {
						t.Errorf("%s: the server received %d messages, want none", tc.name, n-before)
					}

					// Once the pause is over, a sender that trusts the CA
					// delivers it: the refused attempt was not counted.
					clock.Advance(time.Hour)
					rec := &attemptsSender{Sender: sender(ca.PEM())}
					if sent, failed := runOnce(rec); sent != 1 || failed != 0 {
						t.Fatalf("%s, then the CA file: sent %d, failed %d; want 1, 0", tc.name, sent, failed)
					}
					if len(rec.attempts) != 1 || rec.attempts[0] != 1 {
						t.Errorf("%s: delivered as attempts %v, want [1] (the refusal uncounted)", tc.name, rec.attempts)
					}
					if m := srv.WaitFor(t, smtptest.To("bob@example.com"), 10*time.Second); !m.TLS {
						t.Errorf("%s: the retry was delivered without TLS", tc.name)
					}
					if n := pending(); n != 0 {
						t.Errorf("%s: %d mails pending at the end", tc.name, n)
					}
				}

				// The right CA, but a certificate for another host.
				wrongHost := smtptest.Start(t, tr.opt(ca.Issue(t, "mail.portal.test")))
				s, err := mail.NewSender(wrongHost.URL(), "Portal <no-reply@localhost>", nil, mail.WithExtraRootCAs(ca.Certificate()))
				if err != nil {
					t.Fatal(err)
				}
				err = s.Send(ctx, portal.OutboxMessage{ID: "host", To: "x@example.com", Subject: "s", Text: "t"})
				if !errors.As(err, new(x509.HostnameError)) {
					t.Errorf("a certificate for another host: Send = %v, want a host name error", err)
				}
				if n := len(wrongHost.Messages()); n != 0 {
					t.Errorf("the server of the wrong host received %d messages", n)
				}
			})
		}
	})
}
