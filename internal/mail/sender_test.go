package mail

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"

	"portal"
)

const defaultFrom = "Portal <no-reply@localhost>"

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		url      string
		host     string
		port     int
		security security
		user     string
		pass     string
	}{
		{"smtp://127.0.0.1:2525", "127.0.0.1", 2525, securityNone, "", ""},
		{"smtp://localhost", "localhost", 587, securityNone, "", ""},
		{"smtp://LocalHost:25", "LocalHost", 25, securityNone, "", ""},
		{"smtp://[::1]:2525", "::1", 2525, securityNone, "", ""},
		{"smtp://127.0.0.2:25", "127.0.0.2", 25, securityNone, "", ""},
		{"smtp://mail.example.com", "mail.example.com", 587, securityStartTLS, "", ""},
		{"smtp://mail.example.com:25", "mail.example.com", 25, securityStartTLS, "", ""},
		{"smtp://u%40x:p%3Aw@mail.example.com:587", "mail.example.com", 587, securityStartTLS, "u@x", "p:w"},
		{"smtp://relay.internal:25?starttls=off", "relay.internal", 25, securityNone, "", ""},
		{"smtp://relay.internal?starttls=on", "relay.internal", 587, securityStartTLS, "", ""},
		{"smtp://127.0.0.1:2525?starttls=on", "127.0.0.1", 2525, securityStartTLS, "", ""}, // asked for: kept on loopback
		{"smtp://localhost?starttls=yes", "localhost", 587, securityStartTLS, "", ""},
		{"smtp://user:pass@relay.internal/?starttls=off", "relay.internal", 587, securityNone, "user", "pass"},
		{"smtps://mail.example.com", "mail.example.com", 465, securityImplicit, "", ""},
		{"smtps://user:secret@mail.example.com:1465", "mail.example.com", 1465, securityImplicit, "user", "secret"},
		{"smtps://127.0.0.1:465", "127.0.0.1", 465, securityImplicit, "", ""}, // explicit TLS kept on loopback
		{"SMTP://mail.example.com", "mail.example.com", 587, securityStartTLS, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := parseSMTPURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if c.host != tt.host || c.port != tt.port || c.security != tt.security || c.user != tt.user || c.pass != tt.pass {
				t.Errorf("got host=%q port=%d security=%v user=%q pass=%q, want %q %d %v %q %q",
					c.host, c.port, c.security, c.user, c.pass, tt.host, tt.port, tt.security, tt.user, tt.pass)
			}
			if strings.Contains(c.String(), "secret") {
				t.Errorf("String() leaks the password: %s", c)
			}
		})
	}
}

func TestParseSMTPURLErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://mail.example.com", "unsupported scheme"},
		{"ftp://mail.example.com", "unsupported scheme"},
		{"mail.example.com:25", "scheme"},
		{"smtp://", "missing host"},
		{"smtp://:25", "missing host"},
		{"smtp://mail.example.com:0", "bad port"},
		{"smtp://mail.example.com:65536", "bad port"},
		{"smtp://mail.example.com:abc", "invalid port"},
		{"smtp://mail.example.com/path", "unexpected path"},
		{"smtp://mail.example.com?starttls=maybe", "starttls"},
		{"smtp://mail.example.com?tls=off", "unknown parameter"},
		{"smtps://mail.example.com?starttls=off", "only to smtp://"},
		{"smtp://:secret@mail.example.com", "without user name"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := parseSMTPURL(tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the password: %v", err)
			}
			// NewSender reports the same error.
			if _, err := NewSender(tt.url, defaultFrom, nil); err == nil {
				t.Error("NewSender: want error")
			}
		})
	}
}

func TestNewSenderKinds(t *testing.T) {
	s, err := NewSender("", defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*logSender); !ok {
		t.Errorf("empty URL: got %T, want *logSender", s)
	}

	s, err = NewSender("smtp://user:pw@mail.example.com", defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, ok := s.(*smtpSender)
	if !ok {
		t.Fatalf("got %T, want *smtpSender", s)
	}
	if ss.cfg.security != securityStartTLS || ss.cfg.port != 587 {
		t.Errorf("remote smtp: %v, want STARTTLS required on 587", ss.cfg)
	}
	if ss.fromDomain != "localhost" {
		t.Errorf("fromDomain = %q", ss.fromDomain)
	}
	// The go-mail client is configured as parsed.
	if c := ss.client; c.TLSPolicy() != gomail.TLSMandatory.String() {
		t.Errorf("TLS policy = %s, want %s", c.TLSPolicy(), gomail.TLSMandatory)
	}

	s, err = NewSender("smtp://127.0.0.1:2525", defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.(*smtpSender).client; c.TLSPolicy() != gomail.NoTLS.String() {
		t.Errorf("loopback TLS policy = %s, want %s", c.TLSPolicy(), gomail.NoTLS)
	}
}

func TestNewSenderFrom(t *testing.T) {
	for _, from := range []string{defaultFrom, "no-reply@example.com", `"Portal, Inc." <mail@example.com>`} {
		if _, err := NewSender("", from, nil); err != nil {
			t.Errorf("from %q: %v", from, err)
		}
	}
	for _, from := range []string{"", "  ", "Portal", "Portal <no-reply>x", "a@b, c@d", "<@>"} {
		if _, err := NewSender("", from, nil); err == nil {
			t.Errorf("from %q: want error", from)
		}
		if _, err := NewSender("smtp://127.0.0.1:25", from, nil); err == nil {
			t.Errorf("smtp, from %q: want error", from)
		}
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := NewSender("", defaultFrom, logger)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	subject, text, html, err := Render("verify_register", LinkData{
		Email: "ann@example.com",
		Link:  "http://127.0.0.1:8080/register/verify?token=tok123",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), portal.OutboxMessage{ID: "m1", To: "ann@example.com", Subject: subject, Text: text, HTML: html})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"level=INFO", "ann@example.com", subject, "http://127.0.0.1:8080/register/verify?token=tok123"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestMessageIDLocal(t *testing.T) {
	if got := messageIDLocal("0b6f8e1c-8a2d-4a7e-9c1e-1d2f3a4b5c6d"); got != "outbox.0b6f8e1c-8a2d-4a7e-9c1e-1d2f3a4b5c6d" {
		t.Errorf("uuid: %q", got)
	}
	for _, bad := range []string{"", "a b", "x>y", "a@b", strings.Repeat("a", 65)} {
		got := messageIDLocal(bad)
		if len(got) != 32 || strings.ContainsAny(got, " <>@") {
			t.Errorf("%q → %q, want 32 hex digits", bad, got)
		}
	}
}
