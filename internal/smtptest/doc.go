// Package smtptest runs a real SMTP server in-process for tests.
//
// The server is built on github.com/emersion/go-smtp, listens on 127.0.0.1
// on a free port and keeps every message it accepts, parsed into a Message
// (headers decoded, quoted-printable and base64 bodies decoded, the text and
// HTML alternatives of a multipart mail separated). Tests send mail through
// the application's real sender to Server.URL and read it back with
// Server.Messages or Server.WaitFor:
//
//	srv := smtptest.Start(t)
//	// ... configure the application with srv.URL() and make it send mail ...
//	m := srv.WaitFor(t, smtptest.To("ann@example.com"), 10*time.Second)
//	link := smtptest.FindLink(m.Text, baseURL+"/verify")
//
// TLS, for tests of certificate checks: NewCA makes a CA for the test (its
// key in memory only) and CA.Issue a server certificate for given hosts;
// WithSTARTTLS(cert) makes the server offer STARTTLS (URL then ends in
// ?starttls=on), WithImplicitTLS(cert) speak TLS from the first byte (URL
// then is smtps://). Message.TLS tells whether a message arrived over TLS.
//
// Faults for tests of retries: SetDown (a crashed server: connections cut
// and refused), SetMailReply (every MAIL FROM answered 421/451/…),
// RejectRcpt (one recipient answered 4xx or 5xx). Connections counts the
// SMTP connections accepted, Open those open now.
package smtptest
