// Package mail sends Portal's e-mail: message templates, the SMTP (or
// logging) Sender and the outbox Worker.
//
// Mail is never sent inside a request or a transaction. The service layer
// renders a message with Render and stores it in the outbox in the same
// transaction as the change that caused it; the Worker claims due messages
// from the outbox in batches (a lease in the instance's name makes sure
// only one instance sends a given message when several share a database),
// sends them with a Sender, several at once, and marks each sent as soon as
// the server has accepted it.
//
// The SMTP sender keeps a small pool of connections (PoolSize), each
// carrying many messages with an RSET between them; a connection that
// fails is closed and replaced, an idle one closed after IdleTimeout.
// Failures are classified (Kind): a 4xx reply for the message's recipient
// or content is retried with exponential back-off and jitter, a 5xx marks
// that message failed at once, and a failure of the server itself (down,
// 421, MAIL FROM refused, connection lost) pauses the whole outbox with
// back-off instead, without counting an attempt against any message.
//
// Delivery is at-least-once. A message is sent twice only when the process
// stops between the server's acceptance of the message (its reply to the
// end of DATA) and the MarkSent transaction that follows at once, or when
// the connection breaks after the message was transmitted and before the
// server's reply arrived; both copies carry the same Message-ID (derived
// from the outbox id). A crashed instance's claims are taken back at once
// when it restarts under the same instance id (Outbox.TakeBack), and by any
// instance when their lease expires.
//
// NewSender chooses the transport from PORTAL_SMTP_URL:
//
//	""                                  log each message instead of sending (development)
//	smtp://[user:pass@]host[:587]       STARTTLS required
//	smtp://host:port?starttls=off       no TLS (only for trusted networks)
//	smtp://127.0.0.1:port, localhost    no TLS (loopback relay)
//	smtp://127.0.0.1:port?starttls=on   STARTTLS required, on loopback too
//	smtps://[user:pass@]host[:465]      implicit TLS
//
// With TLS, the server's certificate is always verified for the URL's
// host (TLS 1.2 at least), against the system's roots and the CAs given
// with WithExtraRootCAs (PORTAL_SMTP_CA_FILE, a private CA).
//
// # Templates
//
// Each message kind is a pair of files under templates/:
//
//	NAME.txt   required: {{define "subject"}}…{{end}} and {{define "body"}}…{{end}} (text/template)
//	NAME.html  optional: {{define "body"}}…{{end}} (html/template)
//
// The bodies are wrapped in the shared layouts _layout.txt and _layout.html.
// Without NAME.html the message is text/plain only. To add a message kind,
// add the files and call Render("NAME", data) with any struct (LinkData fits
// most link-carrying mails); TestTemplatesRender renders every template.
package mail
