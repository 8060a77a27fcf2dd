package portal

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Rules on Portal's own source that hold whatever the tests of behaviour
// cover (ASVS V1, V6, V11, V12, V15): what the binary may import and call,
// and what the GUI's scripts and templates may do.

// goPackage is one directory of the module, its non-test files parsed.
type goPackage struct {
	importPath string
	files      map[string]*ast.File // by file path
	imports    map[string]bool
}

// modulePackages parses every non-test Go file of the module.
func modulePackages(t *testing.T) map[string]*goPackage {
	t.Helper()
	pkgs := map[string]*goPackage{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != "." && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ip := path.Join("portal", filepath.ToSlash(filepath.Dir(p)))
		pkg := pkgs[ip]
		if pkg == nil {
			pkg = &goPackage{importPath: ip, files: map[string]*ast.File{}, imports: map[string]bool{}}
			pkgs[ip] = pkg
		}
		pkg.files[p] = f
		for _, im := range f.Imports {
			s, _ := strconv.Unquote(im.Path.Value)
			pkg.imports[s] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// binaryPackages are the module's packages that cmd/portal is built from.
func binaryPackages(t *testing.T, pkgs map[string]*goPackage) []*goPackage {
	t.Helper()
	const main = "portal/cmd/portal"
	if pkgs[main] == nil {
		t.Fatalf("no package %s", main)
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(ip string) {
		if seen[ip] || pkgs[ip] == nil {
			return
		}
		seen[ip] = true
		for im := range pkgs[ip].imports {
			walk(im)
		}
	}
	walk(main)
	var out []*goPackage
	for ip := range seen {
		out = append(out, pkgs[ip])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].importPath < out[j].importPath })
	return out
}

// isTestSupport reports whether a package of the module exists for tests
// only (testenv, smtptest, browsertest, oidctest, store/storetest, mistspec).
func isTestSupport(importPath string) bool {
	base := path.Base(importPath)
	return strings.HasSuffix(base, "test") || base == "testenv" || base == "mistspec"
}

// TestSourceImports: the packages Portal's binary is built from import no
// command execution (V1.2.5), no non-cryptographic random numbers (V6.5.3,
// V7.2.3, V11.5.1), no broken or unauthenticated cryptography (MD5, SHA-1,
// DES, RC4, unauthenticated cipher modes, RSA PKCS#1 v1.5 encryption:
// V11.2.1, V11.3.1, V11.4.1), no decoders of gob, XML or YAML (V1.5.2), and
// no test-support package (V15.2.3); no TLS client turns certificate checks
// off (V12.3.2); GUI output is converted to trusted HTML only in the two
// reviewed helpers that escape it first (V1.1.2); and no migration adds a
// password hint or a secret question (V6.4.2).
func TestSourceImports(t *testing.T) {
	pkgs := modulePackages(t)
	bin := binaryPackages(t, pkgs)
	if len(bin) < 8 {
		t.Fatalf("the binary is built from only %d packages of the module: is the test at the repository's root?", len(bin))
	}
	forbidden := map[string]string{
		"os/exec":          "no command execution",
		"syscall/exec":     "no command execution",
		"math/rand":        "random numbers come from crypto/rand",
		"math/rand/v2":     "random numbers come from crypto/rand",
		"crypto/md5":       "MD5 is broken",
		"crypto/sha1":      "SHA-1 is broken (it is used only inside the TOTP library's HMAC, as RFC 6238 requires)",
		"crypto/des":       "DES is broken",
		"crypto/rc4":       "RC4 is broken",
		"encoding/gob":     "JSON into typed structures only",
		"encoding/xml":     "JSON into typed structures only",
		"gopkg.in/yaml.v2": "JSON into typed structures only",
		"gopkg.in/yaml.v3": "JSON into typed structures only",
		"text/template":    "", // allowed only for the text part of mails, below
	}
	// Calls and fields that no package of the binary may use.
	forbiddenSelectors := map[string]string{
		"cipher.NewCBCEncrypter":        "unauthenticated cipher mode",
		"cipher.NewCBCDecrypter":        "unauthenticated cipher mode",
		"cipher.NewCFBEncrypter":        "unauthenticated cipher mode",
		"cipher.NewCFBDecrypter":        "unauthenticated cipher mode",
		"cipher.NewOFB":                 "unauthenticated cipher mode",
		"cipher.NewCTR":                 "unauthenticated cipher mode",
		"rsa.EncryptPKCS1v15":           "PKCS#1 v1.5 encryption",
		"rsa.DecryptPKCS1v15":           "PKCS#1 v1.5 encryption",
		"rsa.DecryptPKCS1v15SessionKey": "PKCS#1 v1.5 encryption",
		"template.JS":                   "data is never trusted as script",
		"template.JSStr":                "data is never trusted as script",
		"template.URL":                  "data is never trusted as a URL",
		"template.CSS":                  "data is never trusted as style",
		"template.Srcset":               "data is never trusted as a URL",
		"InsecureSkipVerify":            "TLS clients verify certificates",
		"tls.VersionTLS10":              "TLS 1.2 or later",
		"tls.VersionTLS11":              "TLS 1.2 or later",
		"http.DefaultServeMux":          "the routes are the server's own mux (nothing registered by an import)",
	}
	reviewedHTML := map[string]bool{ // escape with html/template, then mark the result as HTML
		"internal/server/web.go":                true,
		"internal/server/web_account_status.go": true,
	}
	textTemplateOK := map[string]bool{"portal/internal/mail": true} // plain-text mail bodies
	mathRandOK := map[string]bool{"portal/internal/mail": true}     // the jitter of the retry delay, no secret

	for _, pkg := range bin {
		if isTestSupport(pkg.importPath) {
			t.Errorf("the binary imports %s, a package for tests only", pkg.importPath)
		}
		for im := range pkg.imports {
			why, bad := forbidden[im]
			switch {
			case im == "text/template":
				bad = !textTemplateOK[pkg.importPath]
				why = "HTML is made with html/template"
			case strings.HasPrefix(im, "math/rand") && mathRandOK[pkg.importPath]:
				bad = false
			}
			if bad {
				t.Errorf("%s imports %s: %s", pkg.importPath, im, why)
			}
			if strings.Contains(im, "crypto") && !strings.HasPrefix(im, "crypto/") && !strings.HasPrefix(im, "golang.org/x/crypto/") {
				t.Errorf("%s imports %s: cryptography comes from the standard library and golang.org/x/crypto only", pkg.importPath, im)
			}
		}
		for file, f := range pkg.files {
			// The local names of the imports, to resolve selectors.
			local := map[string]string{}
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				name := path.Base(p)
				if im.Name != nil {
					name = im.Name.Name
				}
				local[name] = path.Base(p)
			}
			aesCalls, gcmCalls := 0, 0
			ast.Inspect(f, func(n ast.Node) bool {
				var key string
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := n.X.(*ast.Ident); ok && local[id.Name] != "" {
						key = local[id.Name] + "." + n.Sel.Name
					} else {
						key = n.Sel.Name
					}
				case *ast.KeyValueExpr:
					if id, ok := n.Key.(*ast.Ident); ok {
						key = id.Name
					}
				default:
					return true
				}
				pos := file
				switch key {
				case "aes.NewCipher":
					aesCalls++
				case "cipher.NewGCM", "cipher.NewGCMWithRandomNonce":
					gcmCalls++
				case "template.HTML", "template.HTMLAttr":
					if !reviewedHTML[filepath.ToSlash(file)] {
						t.Errorf("%s: %s: only the reviewed helpers (%v) mark text as trusted HTML", pos, key, slices.Sorted(maps.Keys(reviewedHTML)))
					}
				default:
					if why := forbiddenSelectors[key]; why != "" {
						t.Errorf("%s: %s: %s", pos, key, why)
					}
				}
				return true
			})
			if aesCalls > 0 && gcmCalls == 0 {
				t.Errorf("%s: AES without GCM: encryption must be authenticated", file)
			}
		}
	}

	// No password hints or secret questions in the schema.
	migrations, err := filepath.Glob("internal/store/migrations/*/*.sql")
	if err != nil || len(migrations) == 0 {
		t.Fatalf("no migrations found (%v)", err)
	}
	hint := regexp.MustCompile(`(?i)\b\w*(hint|question|secret_answer)\w*\b`)
	for _, m := range migrations {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if w := hint.FindString(string(b)); w != "" {
			t.Errorf("%s: %q: no password hints or secret questions", m, w)
		}
	}
}

// TestGUIScripts: the GUI's own scripts evaluate no strings as code (V1.3.2),
// put no markup into the page (V3.2.2), keep nothing in browser storage
// and write no cookies (V14.3.3), and load, parse or merge no data, so that
// nothing from the server can reach an object's prototype (V15.3.6). The
// pages work without them; they only add behaviour to server-rendered HTML.
func TestGUIScripts(t *testing.T) {
	scripts, err := filepath.Glob("internal/server/web/static/*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no GUI scripts found (%v)", err)
	}
	rules := []struct{ re, why string }{
		{`\beval\s*\(`, "no eval"},
		{`\bnew\s+Function\b|\bFunction\s*\(`, "no code from strings"},
		{`\bset(Timeout|Interval)\s*\(\s*["'\x60]`, "no code from strings"},
		{`\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|srcdoc`, "text goes in through textContent, never as markup"},
		{`\b(localStorage|sessionStorage|indexedDB|caches)\b|document\.cookie\s*=`, "nothing is kept in the browser"},
		{`\bfetch\s*\(|XMLHttpRequest|\bJSON\.parse\b|Object\.(assign|setPrototypeOf)|__proto__|\bstructuredClone\b`, "no data is loaded, parsed or merged"},
		{`https?://|//[a-z0-9.-]+\.[a-z]{2,}/`, "nothing from another host"},
	}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			code := line
			if j := strings.Index(code, "// "); j >= 0 && !strings.Contains(code[:j], `"`) {
				code = code[:j] // a comment
			}
			for _, r := range rules {
				if m := regexp.MustCompile(r.re).FindString(code); m != "" {
					t.Errorf("%s:%d: %q: %s", s, i+1, m, r.why)
				}
			}
		}
	}
}

// TestGUITemplates: every password field is masked (V6.2.6) and lets
// password managers fill it and people paste into it (V6.2.7); pages have
// no inline script, load scripts only from /static/ (V1.2.3), embed no
// plugins (V3.7.1) and take nothing from another host (V14.2.3).
func TestGUITemplates(t *testing.T) {
	templates, err := filepath.Glob("internal/server/web/templates/*.html")
	if err != nil || len(templates) == 0 {
		t.Fatalf("no GUI templates found (%v)", err)
	}
	input := regexp.MustCompile(`(?s)<input\b[^>]*>`)
	attr := func(tag, name string) (string, bool) {
		m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return m[1], true
	}
	passwords := 0
	for _, file := range templates {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(b)
		for _, tag := range input.FindAllString(doc, -1) {
			name, _ := attr(tag, "name")
			typ, _ := attr(tag, "type")
			if !strings.Contains(name, "password") && typ != "password" {
				continue
			}
			passwords++
			if typ != "password" {
				t.Errorf("%s: %s: a password field must be type=password", file, tag)
			}
			if ac, _ := attr(tag, "autocomplete"); ac != "current-password" && ac != "new-password" {
				t.Errorf("%s: %s: a password field says autocomplete=current-password or new-password, for password managers", file, tag)
			}
			if regexp.MustCompile(`\son(paste|copy|cut|drop)=`).MatchString(tag) {
				t.Errorf("%s: %s: pasting is never blocked", file, tag)
			}
		}
		for _, tag := range regexp.MustCompile(`(?i)<script\b[^>]*>`).FindAllString(doc, -1) {
			if src, ok := attr(tag, "src"); !ok || !strings.HasPrefix(src, "/static/") {
				t.Errorf("%s: %s: no inline script; scripts come from /static/", file, tag)
			}
		}
		for _, r := range []struct{ re, why string }{
			{`(?i)<script\b[^>]*\ssrc="(?:[^/]|//)`, "scripts come from /static/"},
			{`(?i)<(object|embed|applet|iframe|frame)\b`, "no plugins or frames"},
			{`(?i)\s(src|href|action|formaction|poster|data)="(https?:)?//`, "nothing is loaded from or sent to another host"},
			{`(?i)\son[a-z]+="`, "no inline event handlers (the CSP forbids them)"},
		} {
			if m := regexp.MustCompile(r.re).FindString(doc); m != "" {
				t.Errorf("%s: %q: %s", file, m, r.why)
			}
		}
	}
	if passwords < 10 {
		t.Errorf("found %d password fields in the templates: the test no longer finds them", passwords)
	}
}

// TestLogSinks: logs go only where SECURITY.md's "Logs" section says
// (ASVS V16.1.1, V16.2.3): the one logger is made in cmd/portal and writes
// to standard error; no other package of the binary makes a logger (other
// than one that discards), sets the default one, or writes to standard
// output or error.
func TestLogSinks(t *testing.T) {
	pkgs := modulePackages(t)
	seen := 0
	for _, pkg := range binaryPackages(t, pkgs) {
		if pkg.importPath == "portal/cmd/portal" {
			continue
		}
		for file, f := range pkg.files {
			local := map[string]string{}
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				name := path.Base(p)
				if im.Name != nil {
					name = im.Name.Name
				}
				local[name] = p
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				key := local[id.Name] + "." + sel.Sel.Name
				switch key {
				case "log/slog.DiscardHandler":
					seen++
				case "log/slog.NewTextHandler", "log/slog.NewJSONHandler", "log/slog.SetDefault", "log.New", "log.SetOutput", "log.Print", "log.Printf",
					"log.Println", "log.Fatal", "log.Fatalf", "log.Panicf", "os.Stderr", "os.Stdout", "fmt.Print", "fmt.Printf", "fmt.Println":
					t.Errorf("%s: %s: only cmd/portal chooses where logs go", file, key)
				}
				return true
			})
		}
	}
	if seen == 0 {
		t.Error("found no logger at all outside cmd/portal: does the test still read the packages?")
	}
	main := pkgs["portal/cmd/portal"]
	found := false
	for _, f := range main.files {
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewTextHandler" && len(call.Args) > 0 {
					if id, ok := call.Args[0].(*ast.Ident); ok && id.Name == "stderr" {
						found = true
					}
				}
			}
			return true
		})
	}
	if !found {
		t.Error("cmd/portal no longer makes its logger with slog.NewTextHandler(stderr, …): update SECURITY.md's Logs section and this test")
	}
}

// TestOutboundConnections: Portal connects out only to what SECURITY.md's
// "Connections" section lists (ASVS V13.1.1, V13.2.4): the database (its
// drivers only in internal/store), the SMTP server (the mail client only in
// internal/mail) and the sign-in provider (the only HTTP client, in
// internal/oidclogin); only the mail and database packages dial sockets
// themselves, and no other package of the binary connects anywhere.
func TestOutboundConnections(t *testing.T) {
	owner := map[string]string{ // an import prefix that connects out → the one package that may use it
		"github.com/jackc/pgx":           "portal/internal/store",
		"modernc.org/sqlite":             "portal/internal/store",
		"github.com/lib/pq":              "portal/internal/store",
		"github.com/wneessen/go-mail":    "portal/internal/mail",
		"net/smtp":                       "portal/internal/mail",
		"golang.org/x/oauth2":            "portal/internal/oidclogin",
		"github.com/coreos/go-oidc":      "portal/internal/oidclogin",
		"github.com/go-jose/go-jose":     "portal/internal/oidclogin",
		"github.com/prometheus/common":   "",
		"github.com/emersion/go-smtp":    "", // the test SMTP server's library
		"github.com/chromedp":            "",
		"github.com/zitadel":             "",
		"google.golang.org/grpc":         "",
		"cloud.google.com":               "",
		"github.com/aws/aws-sdk-go":      "",
		"github.com/hashicorp/vault":     "",
		"go.opentelemetry.io/otel/exp":   "",
		"github.com/getsentry/sentry-go": "",
	}
	// HTTP and socket clients in the code itself.
	const connect = "portal/internal/mail portal/internal/store" // SMTP and the database dial themselves
	dialers := map[string]string{
		"http.Client": "portal/internal/oidclogin", "http.DefaultClient": "", "http.Get": "", "http.Post": "", "http.Head": "", "http.PostForm": "",
		"http.DefaultTransport": "", "http.Transport": "", "net.Dial": connect, "net.DialTimeout": connect, "net.Dialer": connect, "tls.Dial": connect,
		"tls.Dialer": connect, "tls.DialWithDialer": connect,
	}
	clients := 0
	for _, pkg := range binaryPackages(t, modulePackages(t)) {
		for im := range pkg.imports {
			for prefix, only := range owner {
				if strings.HasPrefix(im, prefix) && pkg.importPath != only {
					t.Errorf("%s imports %s: only %q may connect there", pkg.importPath, im, only)
				}
			}
		}
		for file, f := range pkg.files {
			local := map[string]string{}
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				name := path.Base(p)
				if im.Name != nil {
					name = im.Name.Name
				}
				local[name] = path.Base(p)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok || local[id.Name] == "" {
					return true
				}
				key := local[id.Name] + "." + sel.Sel.Name
				if only, ok := dialers[key]; ok {
					if !slices.Contains(strings.Fields(only), pkg.importPath) {
						t.Errorf("%s: %s: only %q makes outbound connections of this kind", file, key, only)
					} else {
						clients++
					}
				}
				return true
			})
		}
	}
	if clients == 0 {
		t.Error("found no HTTP client in internal/oidclogin: does the test still read the packages?")
	}
}

// TestNoSecretsInRepository (ASVS V13.3.1): no file of the repository
// holds a private key, a cloud or service token, or a value for
// PORTAL_SECRET_KEY; secrets come from the environment or the key file
// that serve generates outside the repository.
func TestNoSecretsInRepository(t *testing.T) {
	patterns := map[string]*regexp.Regexp{
		"a private key":                 regexp.MustCompile(`-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----`),
		"an AWS access key":             regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`),
		"a GitHub token":                regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`),
		"a Slack token":                 regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`),
		"a Google API key":              regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`),
		"a value for PORTAL_SECRET_KEY": regexp.MustCompile(`PORTAL_SECRET_KEY[=:]\s*["']?[A-Za-z0-9+/]{43}=`),
	}
	files := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != "." && (strings.HasPrefix(n, ".") && n != ".ci" || n == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		if info, err := d.Info(); err != nil || !d.Type().IsRegular() || info.Size() > 2<<20 {
			return err // a built binary, say: not source
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
			return nil // binary
		}
		files++
		for what, re := range patterns {
			if m := re.Find(b); m != nil {
				t.Errorf("%s holds %s: %.20q…", p, what, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read only %d files: is the test at the repository's root?", files)
	}
}
