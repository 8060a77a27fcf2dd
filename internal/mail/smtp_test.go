package mail

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"portal"
	"portal/internal/smtptest"
)

const waitTimeout = 10 * time.Second

func renderMsg(t *testing.T, id, to, name string, data LinkData) portal.OutboxMessage {
	t.Helper()
	subject, text, html, err := Render(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return portal.OutboxMessage{ID: id, To: to, Subject: subject, Text: text, HTML: html, CreatedTime: t0}
}

func TestSMTPSendMultipart(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := NewSender(srv.URL(), defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	link := "http://127.0.0.1:8080/register/verify?token=Zm9vYmFy_-x&next=%2Fhome"
	m := renderMsg(t, "0b6f8e1c-8a2d-4a7e-9c1e-1d2f3a4b5c6d", "Ann.Lee@example.com", "verify_register",
		LinkData{Name: "Ann Lée", Email: "Ann.Lee@example.com", Link: link, ExpiresIn: "24 hours"})
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	got := srv.WaitFor(t, smtptest.To("ann.lee@example.com"), waitTimeout)
	if len(got.To) != 1 || got.To[0] != "Ann.Lee@example.com" {
		t.Errorf("To = %v", got.To)
	}
	if got.MailFrom != "no-reply@localhost" {
		t.Errorf("MAIL FROM = %q", got.MailFrom)
	}
	if got.From != `"Portal" <no-reply@localhost>` && got.From != "Portal <no-reply@localhost>" {
		t.Errorf("From = %q", got.From)
	}
	if got.Subject != m.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, m.Subject)
	}
	if got.Text != m.Text && strings.ReplaceAll(got.Text, "\r\n", "\n") != m.Text {
		t.Errorf("text part differs:\n%q\nwant\n%q", got.Text, m.Text)
	}
	if l := smtptest.FindLink(got.Text, "http://127.0.0.1:8080/register/verify"); l != link {
		t.Errorf("link in text = %q, want %q", l, link)
	}
	if !strings.Contains(got.Text, "Ann Lée") {
		t.Errorf("non-ASCII name lost:\n%s", got.Text)
	}
	if got.HTML == "" || !strings.Contains(got.HTML, "<html") || !strings.Contains(got.HTML, "Confirm email address") {
		t.Errorf("no HTML part:\n%s", got.HTML)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	if id := got.Header.Get("Message-Id"); id != "<outbox.0b6f8e1c-8a2d-4a7e-9c1e-1d2f3a4b5c6d@localhost>" {
		t.Errorf("Message-ID = %q", id)
	}
	if got.Header.Get("Date") == "" {
		t.Error("no Date header")
	}
}

func TestSMTPSendTextOnly(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := NewSender(srv.URL(), "no-reply@portal.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := portal.OutboxMessage{ID: "x1", To: "bob@example.com", Subject: "Plain — only", Text: "See https://portal.example/a?b=c.\n"}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, smtptest.To("bob@example.com"), waitTimeout)
	if got.Subject != m.Subject {
		t.Errorf("Subject = %q", got.Subject)
	}
	if got.HTML != "" {
		t.Errorf("unexpected HTML part: %q", got.HTML)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if l := smtptest.FindLink(got.Text, "https://portal.example/"); l != "https://portal.example/a?b=c" {
		t.Errorf("link = %q", l)
	}
}

func TestSMTPSendWithAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth("mailer", "p@ss:word"))
	if !strings.Contains(srv.URL(), "mailer:") {
		t.Fatalf("URL %q lacks the credentials", srv.URL())
	}
	s, err := NewSender(srv.URL(), defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := renderMsg(t, "a1", "carol@example.com", "account_exists",
		LinkData{Email: "carol@example.com", Link: "http://127.0.0.1:8080/login"})
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, smtptest.To("carol@example.com"), waitTimeout)
	if smtptest.FindLink(got.Text, "http://127.0.0.1:8080/login") == "" {
		t.Errorf("no login link:\n%s", got.Text)
	}

	// Wrong password and no credentials are refused by the server.
	for _, u := range []string{
		strings.Replace(srv.URL(), "p%40ss%3Aword", "wrong", 1),
		"smtp://" + srv.Addr(),
	} {
		s, err := NewSender(u, defaultFrom, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("%s: send succeeded without valid credentials", u)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server accepted %d messages, want 1", n)
	}
}

// STARTTLS is really required for a non-loopback smtp:// URL: a server
// without STARTTLS is refused before anything is sent.
func TestSMTPRequiresStartTLS(t *testing.T) {
	srv := smtptest.Start(t)
	cfg, err := parseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.security = securityStartTLS // as for smtp://mail.example.com
	from, _ := parseFrom(defaultFrom)
	s, err := newSMTPSender(cfg, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), portal.OutboxMessage{ID: "t", To: "dan@example.com", Subject: "s", Text: "t"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a STARTTLS error", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages", n)
	}
}

func TestSMTPSendErrors(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := NewSender(srv.URL(), defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), portal.OutboxMessage{ID: "b", To: "not an address", Subject: "s", Text: "t"}); err == nil {
		t.Error("invalid recipient: want error")
	}
	// Nothing listens on this port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s2, err := NewSender("smtp://"+addr, defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Send(context.Background(), portal.OutboxMessage{ID: "c", To: "c@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Error("connection refused: want error")
	}
}

// The worker delivers a queued message through a real SMTP server.
func TestWorkerEndToEnd(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := NewSender(srv.URL(), defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob := newFakeOutbox()
	ob.add(renderMsg(t, "e2e", "erin@example.com", "verify_register",
		LinkData{Email: "erin@example.com", Link: "http://127.0.0.1:8080/register/verify?token=e2e"}), t0)
	w := NewWorker(ob, s, nil, func() time.Time { return t0 }, WorkerOptions{})
	sent, failed, err := w.RunOnce(context.Background())
	if sent != 1 || failed != 0 || err != nil {
		t.Fatalf("RunOnce = %d, %d, %v", sent, failed, err)
	}
	got := srv.WaitFor(t, smtptest.To("erin@example.com"), waitTimeout)
	if smtptest.FindLink(got.Text, "http://127.0.0.1:8080/register/verify?token=") != "http://127.0.0.1:8080/register/verify?token=e2e" {
		t.Errorf("link missing:\n%s", got.Text)
	}
	if !ob.get("e2e").sent {
		t.Error("not marked sent")
	}
}
