package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
)

// Message is one message received by the server.
type Message struct {
	From     string      // the From header, decoded (e.g. "Portal <no-reply@localhost>")
	MailFrom string      // the envelope sender (MAIL FROM)
	To       []string    // the envelope recipients (RCPT TO)
	TLS      bool        // whether it arrived over TLS (STARTTLS or implicit)
	Subject  string      // the Subject header, RFC 2047 decoded
	Text     string      // the first text/plain part (or body), transfer-decoded
	HTML     string      // the first text/html part, transfer-decoded
	Header   mail.Header // the top-level header, raw
	Raw      []byte      // the message as received
}

// ParseMessage parses a raw RFC 5322 message. MailFrom and To (the envelope)
// are left empty.
func ParseMessage(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, fmt.Errorf("read message: %w", err)
	}
	dec := new(mime.WordDecoder)
	m := Message{Header: msg.Header, Raw: raw}
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Message{}, fmt.Errorf("decode subject: %w", err)
	}
	if m.From, err = dec.DecodeHeader(msg.Header.Get("From")); err != nil {
		return Message{}, fmt.Errorf("decode from: %w", err)
	}
	if err := walk(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); err != nil {
		return Message{}, err
	}
	return m, nil
}

// walk collects the text and HTML parts of a body, descending into multiparts.
func walk(m *Message, contentType, cte string, body io.Reader, depth int) error {
	if depth > 10 {
		return fmt.Errorf("multipart nested too deeply")
	}
	mediaType, params := "text/plain", map[string]string{}
	if contentType != "" {
		var err error
		mediaType, params, err = mime.ParseMediaType(contentType)
		if err != nil {
			return fmt.Errorf("parse Content-Type %q: %w", contentType, err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("multipart without boundary")
		}
		mr := multipart.NewReader(body, boundary)
		for {
			// NextRawPart: decode the transfer encoding ourselves, uniformly.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read part: %w", err)
			}
			err = walk(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if err != nil {
				return err
			}
		}
	}
	data, err := decode(cte, body)
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = string(data)
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = string(data)
		}
	}
	return nil
}

func decode(cte string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(r))
		if err != nil {
			return nil, fmt.Errorf("decode quoted-printable: %w", err)
		}
		return b, nil
	case "base64":
		b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r}))
		if err != nil {
			return nil, fmt.Errorf("decode base64: %w", err)
		}
		return b, nil
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(r)
	default:
		return nil, fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
	}
}

// stripSpace drops CR, LF, space and tab, which base64 bodies contain between lines.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

var urlRE = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)

// FindLink returns the first http(s) URL in text that starts with prefix, or
// "" if there is none. Trailing sentence punctuation is not part of the URL.
func FindLink(text, prefix string) string {
	for _, u := range urlRE.FindAllString(text, -1) {
		u = strings.TrimRight(u, ".,;:!?)]}")
		if strings.HasPrefix(u, prefix) {
			return u
		}
	}
	return ""
}
