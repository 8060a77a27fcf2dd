package mail

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"portal/internal/smtptest"
)

// TestSenderTLSConfig: the TLS of STARTTLS and smtps:// verifies the
// server's certificate for the URL's host, TLS 1.2 at least, against the
// system's roots, and with WithExtraRootCAs against those and the CA's.
func TestSenderTLSConfig(t *testing.T) {
	ca := smtptest.NewCA(t, "Private CA")
	leaf := ca.Issue(t, "mail.internal.example").Leaf
	system, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	withCA := system.Clone()
	withCA.AddCert(ca.Certificate())
	for u, host := range map[string]string{
		"smtp://mail.internal.example":      "mail.internal.example",
		"smtps://mail.internal.example:465": "mail.internal.example",
		"smtp://127.0.0.1:25?starttls=on":   "127.0.0.1",
	} {
		for _, extra := range []bool{false, true} {
			var opts []SenderOption
			if extra {
				opts = append(opts, WithExtraRootCAs(ca.Certificate()))
			}
			s, err := NewSender(u, defaultFrom, nil, opts...)
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			c := s.(*smtpSender).tlsConfig
			if c.ServerName != host || c.MinVersion != tls.VersionTLS12 {
				t.Errorf("%s: ServerName %q, MinVersion %x; want %q, TLS 1.2", u, c.ServerName, c.MinVersion, host)
			}
			if !extra {
				if c.RootCAs != nil {
					t.Errorf("%s: RootCAs set without a CA file; want the system's (nil)", u)
				}
				continue
			}
			if !c.RootCAs.Equal(withCA) {
				t.Errorf("%s: RootCAs are not the system's roots and the CA", u)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.RootCAs, DNSName: "mail.internal.example"}); err != nil {
				t.Errorf("%s: a certificate of the CA does not verify: %v", u, err)
			}
		}
	}
}

// TestSenderExtraCAsRefusedWithoutTLS: CAs for a URL that uses no TLS (or
// no URL) would never be used; NewSender says so instead of ignoring them.
func TestSenderExtraCAsRefusedWithoutTLS(t *testing.T) {
	ca := smtptest.NewCA(t, "Private CA").Certificate()
	for u, want := range map[string]string{
		"":                                      "PORTAL_SMTP_CA_FILE is set, but PORTAL_SMTP_URL is not",
		"smtp://127.0.0.1:2525":                 "PORTAL_SMTP_CA_FILE is set, but the SMTP URL smtp://127.0.0.1:2525 (no TLS) uses no TLS",
		"smtp://localhost":                      "PORTAL_SMTP_CA_FILE is set, but the SMTP URL smtp://localhost:587 (no TLS) uses no TLS",
		"smtp://relay.internal:25?starttls=off": "PORTAL_SMTP_CA_FILE is set, but the SMTP URL smtp://relay.internal:25 (no TLS) uses no TLS",
	} {
		_, err := NewSender(u, defaultFrom, nil, WithExtraRootCAs(ca))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", u, err, want)
		}
		if _, err := NewSender(u, defaultFrom, nil); err != nil {
			t.Errorf("%q without CAs: %v", u, err)
		}
	}
	// No CAs given (an empty PORTAL_SMTP_CA_FILE): nothing changes.
	if _, err := NewSender("smtp://127.0.0.1:2525", defaultFrom, nil, WithExtraRootCAs()); err != nil {
		t.Errorf("no CAs: %v", err)
	}
}
