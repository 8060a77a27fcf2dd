package mail

import (
	"strings"
	"testing"
)

func TestTemplatesRender(t *testing.T) {
	names := Templates()
	for _, want := range []string{"verify_register", "account_exists"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("Templates() = %v, missing %q", names, want)
		}
	}
	data := LinkData{
		Name:      "Ann <b>Lee</b>",
		Email:     "ann@example.com",
		Link:      "http://127.0.0.1:8080/verify?token=abc&x=1",
		BaseURL:   "http://127.0.0.1:8080",
		ExpiresIn: "24 hours",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			subject, text, html, err := Render(name, data)
			if err != nil {
				t.Fatal(err)
			}
			if subject == "" || strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject %q: want one non-empty line", subject)
			}
			if !strings.Contains(text, data.Link) {
				t.Errorf("text does not contain the link:\n%s", text)
			}
			if strings.Contains(text, "{{") || strings.Contains(text, "<no value>") {
				t.Errorf("text has template residue:\n%s", text)
			}
			if html == "" {
				return // text-only template
			}
			if !strings.Contains(html, `href="http://127.0.0.1:8080/verify?token=abc&amp;x=1"`) {
				t.Errorf("html does not link to the link:\n%s", html)
			}
			if strings.Contains(html, "<b>Lee") {
				t.Errorf("html does not escape data:\n%s", html)
			}
			if !strings.Contains(html, "<title>"+subject+"</title>") {
				t.Errorf("html title is not the subject %q", subject)
			}
			// No remote assets: nothing is loaded when the mail is opened.
			for _, bad := range []string{"<img", "<link", "<script", "src=", "url(", "@import"} {
				if strings.Contains(strings.ToLower(html), bad) {
					t.Errorf("html contains %q", bad)
				}
			}
		})
	}
}

func TestRenderAccountExists(t *testing.T) {
	subject, text, html, err := Render("account_exists", LinkData{
		Email: "bob@example.com",
		Link:  "https://portal.example.com/login",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(subject), "sign up") {
		t.Errorf("subject = %q", subject)
	}
	for _, want := range []string{"bob@example.com", "already exists", "https://portal.example.com/login", "password"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q:\n%s", want, html)
		}
	}
	if !strings.HasPrefix(text, "Hello,") {
		t.Errorf("text with empty name should start with %q:\n%s", "Hello,", text)
	}
}

func TestRenderOptionalExpiry(t *testing.T) {
	_, text, html, err := Render("verify_register", LinkData{Link: "http://x/verify"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "expires") || strings.Contains(html, "expires") {
		t.Errorf("expiry sentence shown without ExpiresIn:\n%s", text)
	}
	_, text, _, err = Render("verify_register", LinkData{Link: "http://x/verify", ExpiresIn: "2 hours"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "The link expires in 2 hours.") {
		t.Errorf("no expiry sentence:\n%s", text)
	}
}

func TestRenderErrors(t *testing.T) {
	if _, _, _, err := Render("no_such_template", LinkData{}); err == nil || !strings.Contains(err.Error(), "no_such_template") {
		t.Errorf("unknown template: err = %v", err)
	}
	if _, _, _, err := Render("_layout", LinkData{}); err == nil {
		t.Error("the layout must not be renderable as a message")
	}
	// Data without the fields the template uses is an error, not "<no value>".
	if _, _, _, err := Render("verify_register", struct{ Other string }{}); err == nil {
		t.Error("rendering with the wrong data type: want error")
	}
}
