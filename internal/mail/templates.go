package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
)

// LinkData is the data of messages that carry one link: verification,
// password reset, "an account already exists", invitations.
type LinkData struct {
	Name      string // the recipient's display name; may be empty
	Email     string // the address the message is about
	Link      string // the absolute URL to follow
	BaseURL   string // PORTAL_BASE_URL, for a link to the portal itself
	ExpiresIn string // human-readable validity of Link, e.g. "24 hours"; may be empty
	OldEmail  string // e-mail change messages: the previous address
	NewEmail  string // e-mail change messages: the new address
	OrgName   string // invitations and membership changes: the organization
	Role      string // invitations and membership changes: the role's GUI name
	Access    string // invitations and membership changes: "the whole organization" or the sites
	By        string // invitations and membership changes: who did it
	// TokensDeleted is, in the password-changed notice after a recovery,
	// how many API tokens were deleted.
	TokensDeleted int64
	// Notification digests (notify_digest): the notifications grouped by
	// organization and site, how many there are, and the one-click link
	// that turns off every subscription the digest came from.
	Digest      []*DigestGroup
	Count       int
	Unsubscribe string
}

// DigestGroup is the notifications of one organization (Site "") or site
// in a digest, with the link that turns off the subscription they came
// from.
type DigestGroup struct {
	Org, Site   string
	Items       []DigestItem
	Unsubscribe string
}

// DigestItem is one notification, its time and MAC address already in the
// recipient's display preferences.
type DigestItem struct {
	Time, Severity, Text, MAC string
}

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

const (
	textLayoutFile = "templates/_layout.txt"
	htmlLayoutFile = "templates/_layout.html"
)

type templatePair struct {
	text *texttemplate.Template
	html *htmltemplate.Template // nil: text only
}

// loadTemplates parses the embedded templates once.
var loadTemplates = sync.OnceValues(func() (map[string]templatePair, error) {
	textBase, err := texttemplate.New("").Option("missingkey=error").ParseFS(templateFS, textLayoutFile)
	if err != nil {
		return nil, fmt.Errorf("mail: parse %s: %w", textLayoutFile, err)
	}
	htmlBase, err := htmltemplate.New("").Option("missingkey=error").ParseFS(templateFS, htmlLayoutFile)
	if err != nil {
		return nil, fmt.Errorf("mail: parse %s: %w", htmlLayoutFile, err)
	}
	files, err := fs.Glob(templateFS, "templates/*.txt")
	if err != nil {
		return nil, err
	}
	set := make(map[string]templatePair)
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".txt")
		if strings.HasPrefix(name, "_") {
			continue
		}
		var p templatePair
		t, err := texttemplate.Must(textBase.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("mail: parse %s: %w", f, err)
		}
		for _, block := range []string{"subject", "body"} {
			if t.Lookup(block) == nil {
				return nil, fmt.Errorf("mail: %s does not define %q", f, block)
			}
		}
		p.text = t
		hf := "templates/" + name + ".html"
		if _, err := fs.Stat(templateFS, hf); err == nil {
			h, err := htmltemplate.Must(htmlBase.Clone()).ParseFS(templateFS, hf)
			if err != nil {
				return nil, fmt.Errorf("mail: parse %s: %w", hf, err)
			}
			if h.Lookup("body") == nil {
				return nil, fmt.Errorf("mail: %s does not define \"body\"", hf)
			}
			p.html = h
		}
		set[name] = p
	}
	return set, nil
})

// Templates returns the names of the available message templates, sorted.
func Templates() []string {
	set, err := loadTemplates()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Render renders the message template name with data. The subject is the
// template's "subject" block on one line; html is empty when the template
// has no HTML version.
func Render(name string, data any) (subject, text, html string, err error) {
	set, err := loadTemplates()
	if err != nil {
		return "", "", "", err
	}
	p, ok := set[name]
	if !ok {
		return "", "", "", fmt.Errorf("mail: unknown template %q", name)
	}
	var b bytes.Buffer
	if err := p.text.ExecuteTemplate(&b, "subject", data); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s subject: %w", name, err)
	}
	// One line: a header must not contain line breaks.
	subject = strings.Join(strings.Fields(b.String()), " ")
	if subject == "" {
		return "", "", "", fmt.Errorf("mail: template %s renders an empty subject", name)
	}
	b.Reset()
	if err := p.text.ExecuteTemplate(&b, "layout", data); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s text: %w", name, err)
	}
	text = b.String()
	if p.html != nil {
		b.Reset()
		if err := p.html.ExecuteTemplate(&b, "layout", layoutData{Subject: subject, Data: data}); err != nil {
			return "", "", "", fmt.Errorf("mail: render %s html: %w", name, err)
		}
		html = b.String()
	}
	return subject, text, html, nil
}

// layoutData is what the HTML layout sees; it passes .Data to "body".
type layoutData struct {
	Subject string
	Data    any
}
