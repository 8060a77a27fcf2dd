// Package mail sends Portal's e-mail: message templates, the SMTP (or
// logging) Sender and the outbox Worker.
//
// Mail is never sent inside a request or a transaction. The service layer
// renders a message with Render and stores it in the outbox in the same
// transaction as the change that caused it; the Worker claims due messages
// from the outbox (a lease makes sure only one instance sends a given
// message when several share a database), sends them with a Sender, and
// marks them sent, or failed with an exponential backoff. Delivery is
// at-least-once: a message whose sending succeeded but whose MarkSent was
// lost is sent again after its lease expires.
//
// NewSender chooses the transport from PORTAL_SMTP_URL:
//
//	""                                  log each message instead of sending (development)
//	smtp://[user:pass@]host[:587]       STARTTLS required
//	smtp://host:port?starttls=off       no TLS (only for trusted networks)
//	smtp://127.0.0.1:port, localhost    no TLS (loopback relay)
//	smtps://[user:pass@]host[:465]      implicit TLS
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
