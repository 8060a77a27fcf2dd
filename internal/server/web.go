package server

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"text/template/parse"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/format"
)

//go:embed web/templates/*.html
var templateFS embed.FS

//go:embed web/static
var staticFS embed.FS

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "web")
	return filesOnly(sub)
}

// filesOnly serves the regular files of fsys (whose paths are the request
// paths), which browsers may cache; a directory (/static/ itself or one
// under it) is not listed but answered 404, as is a missing file.
func filesOnly(fsys fs.FS) http.Handler {
	fsrv := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if fi, err := fs.Stat(fsys, name); err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// formLimits are the service's limits that the GUI shows: the maxlength
// of form fields ({{limits.Name}}) and how long mailed links and tokens
// last ({{lifetime limits.RecoverLink}}: app.Lifetime, as the mails say it).
type formLimits struct {
	Name, OrgName, SiteName, Email, Phone, APITokenName int
	// PasswordInput is the maxlength of a field for a current password:
	// room for portal.MaxPasswordLen characters as typed (the browser
	// counts UTF-16 units, and NFKC may fold several into one); the
	// service says when it is too long.
	PasswordInput int
	// Code is the maxlength of a field that takes a code or a recovery
	// code, TOTP of one that takes a code only ("123 456").
	Code, TOTP int
	Timezone   int // an IANA name, checked by the service against the list
	// How long links and API tokens last.
	RegisterLink, EmailChangeLink, RecoverLink, APITokenUnused time.Duration
}

var limits = formLimits{
	Name: portal.MaxNameLen, OrgName: portal.MaxOrgNameLen, SiteName: portal.MaxSiteNameLen, Email: portal.MaxEmailLen,
	Phone: app.MaxPhoneLen, APITokenName: app.MaxAPITokenNameLen, PasswordInput: 4 * portal.MaxPasswordLen,
	Code: 32, TOTP: 7, Timezone: 64,
	RegisterLink: app.RegisterTTL, EmailChangeLink: app.EmailChangeTTL, RecoverLink: app.RecoverTTL, APITokenUnused: app.APITokenUnusedExpiry,
}

var funcs = template.FuncMap{
	// section shows the My Account section of the name (account.html;
	// bound to each page's templates by parsePages).
	"section":  func(string, any) (template.HTML, error) { return "", errors.New("section: not bound to a page") },
	"limits":   func() formLimits { return limits },
	"lifetime": app.Lifetime,
	"roleName": func(role string) string { return portal.RoleNames[role] },
	// inviteExpired reports an invitation whose link has expired.
	"inviteExpired": func(ad *app.Admin) bool { return ad.Status == app.AdminInviteExpired },
	// inviteValidity is how long a new invitation's link is valid.
	"inviteValidity": func() string { return app.InviteValidity(0) },
	"initials": func(u *portal.User) string {
		var b strings.Builder
		for _, s := range []string{u.FirstName, u.LastName} {
			if r := []rune(strings.TrimSpace(s)); len(r) > 0 {
				b.WriteString(strings.ToUpper(string(r[0])))
			}
		}
		if b.Len() == 0 {
			return "?"
		}
		return b.String()
	},
}

// parsePages parses each page template together with the layout and the
// partials (files whose names start with "_", such as My Account sections)
// that the page and the layout use, directly or through other partials:
// each page holds its own parsed copy of what it uses, and a copy of every
// partial in each page would be most of the process's live heap (8.4 MB,
// which the garbage collector marks at every collection). A page that
// calls section (the My Account page) gets every "account-" partial.
func parsePages() (map[string]*template.Template, error) {
	files, err := fs.Glob(templateFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	shared := []string{layoutFile}
	for _, f := range files {
		if strings.HasPrefix(path.Base(f), "_") {
			shared = append(shared, f)
		}
	}
	deps, err := readDeps(shared)
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		page, err := readDeps([]string{f})
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, append(deps.filesFor(page.files[f]), f)...)
		if err != nil {
			return nil, err
		}
		t.Funcs(template.FuncMap{"section": func(section string, data any) (template.HTML, error) {
			var b bytes.Buffer
			if err := t.ExecuteTemplate(&b, "account-"+section, data); err != nil {
				return "", err
			}
			return template.HTML(b.String()), nil // html/template escaped it
		}})
		pages[name] = t
	}
	return pages, nil
}

const layoutFile = "web/templates/layout.html"

// templateFile is what one template file uses.
type templateFile struct {
	uses    []string // names given to {{template}}
	section bool     // calls section, which runs an "account-" template chosen at run time
}

// templateDeps is what each of a set of template files uses, and which
// file defines each name.
type templateDeps struct {
	files     map[string]templateFile
	definedIn map[string]string
}

// readDeps parses each of files on its own and reads what it defines and
// uses.
func readDeps(files []string) (templateDeps, error) {
	d := templateDeps{files: map[string]templateFile{}, definedIn: map[string]string{}}
	for _, f := range files {
		t, err := template.New(path.Base(f)).Funcs(funcs).ParseFS(templateFS, f)
		if err != nil {
			return d, err
		}
		var tf templateFile
		for _, def := range t.Templates() {
			if def.Tree == nil {
				continue
			}
			if def.Name() != path.Base(f) {
				d.definedIn[def.Name()] = f
			}
			walkTemplate(def.Tree.Root, func(n parse.Node) {
				switch n := n.(type) {
				case *parse.TemplateNode:
					tf.uses = append(tf.uses, n.Name)
				case *parse.IdentifierNode:
					tf.section = tf.section || n.Ident == "section"
				}
			})
		}
		d.files[f] = tf
	}
	return d, nil
}

// filesFor returns the files of d that a page using what page uses needs:
// the layout, and each file defining a name used by the page or by a file
// already needed, or an "account-" name when one of them calls section;
// sorted, so that every page parses them in the same order.
func (d templateDeps) filesFor(page templateFile) []string {
	need := map[string]bool{}
	var visit func(tf templateFile)
	add := func(file string) {
		if file != "" && !need[file] {
			need[file] = true
			visit(d.files[file])
		}
	}
	visit = func(tf templateFile) {
		for _, name := range tf.uses {
			add(d.definedIn[name])
		}
		if tf.section {
			for name, file := range d.definedIn {
				if strings.HasPrefix(name, "account-") {
					add(file)
				}
			}
		}
	}
	add(layoutFile)
	visit(page)
	out := slices.Collect(maps.Keys(need))
	slices.Sort(out)
	return out
}

// walkTemplate calls fn on n and every node under it.
func walkTemplate(n parse.Node, fn func(parse.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walkTemplate(c, fn)
			}
		}
	case *parse.ActionNode:
		walkTemplate(n.Pipe, fn)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				walkTemplate(c, fn)
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkTemplate(a, fn)
		}
	case *parse.ChainNode:
		walkTemplate(n.Node, fn)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.TemplateNode:
		walkTemplate(n.Pipe, fn)
	}
}

func walkBranch(b *parse.BranchNode, fn func(parse.Node)) {
	walkTemplate(b.Pipe, fn)
	walkTemplate(b.List, fn)
	walkTemplate(b.ElseList, fn)
}

// orgLink is one organization in the switcher.
type orgLink struct {
	ID, Name, Role string
	Admin          bool // a Super User of the whole organization: sees Administrators and Settings
}

// view is what every page template receives.
type view struct {
	Title      string
	User       *portal.User
	CSRF       string
	Orgs       []orgLink
	CurrentOrg string // id of the organization in view
	Path       string // path of the request, to mark the current navigation link
	Flash      string
	Error      string
	ErrorPage  bool // the error is the page's content, not a banner
	Form       url.Values
	Data       any
	// Prefs formats MAC addresses and times in the signed-in user's
	// display preferences: {{$.Prefs.MAC x}}, {{$.Prefs.Time t}}. The zero
	// value (no session) means xx:xx:xx:xx:xx:xx, 12-hour clock, UTC.
	Prefs format.Prefs
	// TwoFactorGrace is the banner of an organization's grace period for
	// two-factor authentication (web_twofactor.go).
	TwoFactorGrace *twoFactorGrace
	// Survey is the survey's part of the page: its prompt, and Survey
	// Results in the user menu of an operator (web_survey.go).
	Survey surveyChrome
	// actor is the signed-in actor of the page (pageView), for Survey.
	actor *app.Actor
}

// render writes a page with the layout.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	if v.Form == nil {
		v.Form = url.Values{}
	}
	v.Path = r.URL.Path
	if v.Flash == "" {
		v.Flash = s.takeFlash(w, r)
	}
	s.surveyChrome(r, status, name, v) // web_survey.go
	var buf bytes.Buffer
	t, ok := s.pages[name]
	if !ok {
		s.log.ErrorContext(r.Context(), "no such page template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageHandler serves a page for a signed-in user.
type pageHandler func(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error

// page requires a session: without one, the browser goes to the login
// page and comes back afterwards. A restricted session is refused (sent
// where it can lift the restriction) unless the route is declared open to
// it: s.page(h, open(whenPending, …)) (restrict.go).
func (s *server) page(h pageHandler, opens ...restriction) http.Handler {
	return pageRoute{s: s, h: h, open: open(opens...)}
}

// pageRoute is a page for a signed-in user (page).
type pageRoute struct {
	s    *server
	h    pageHandler
	open restriction
}

func (rt pageRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := rt.s
	if err := readForm(r); err != nil {
		s.webError(w, r, &view{}, err)
		return
	}
	a, err := s.authenticate(r, rt.open)
	if err != nil {
		if to, ok := twoFactorRedirect(r, err); ok { // the second factor, or enrolment (web_twofactor.go)
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		if portal.ErrorCode(err) == portal.EUNAUTHORIZED {
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = "/"
			}
			if sessionEnded(err) {
				s.flash(w, sentence(portal.ErrorMessage(err))) // why the login page is shown
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if isRestriction(err) { // only the password may be changed: the section says why (restrict.go)
			http.Redirect(w, r, "/account#password", http.StatusSeeOther)
			return
		}
		if portal.ErrorCode(err) == portal.EFORBIDDEN {
			// The form's CSRF token belongs to an older session: the
			// page was loaded before a logout or a new login.
			err = portal.Errorf(portal.EFORBIDDEN, "this page is out of date, probably because you logged out or in again in another tab; reload it and try again")
		}
		s.webError(w, r, &view{}, err)
		return
	}
	v := s.pageView(r, a)
	if err := rt.h(w, r, v, a); err != nil {
		s.webError(w, r, v, err)
	}
}

// pageView is the view of a page for a signed-in user: the navigation
// with the user's organizations.
func (s *server) pageView(r *http.Request, a *app.Actor) *view {
	v := &view{User: a.User, CSRF: a.Session.CSRFToken, Prefs: app.Prefs(a.User)}
	showAccount := twoFactorView(v, a) // before the second factor nothing of the account shows (web_twofactor.go)
	if showAccount {
		v.actor = a
	}
	if me, err := s.svc.GetSelf(r.Context(), a); err == nil && showAccount {
		seen := map[string]bool{}
		orgAdmin := map[string]bool{}
		for _, p := range me.Privileges {
			if app.RoleGrants(p.Role, p.Scope, app.ActManageOrg) { // a Super User of the whole organization
				orgAdmin[p.OrgID] = true
			}
		}
		for _, p := range me.Privileges {
			if !seen[p.OrgID] {
				seen[p.OrgID] = true
				v.Orgs = append(v.Orgs, orgLink{ID: p.OrgID, Name: p.OrgName, Role: p.Role, Admin: orgAdmin[p.OrgID]})
			}
		}
	}
	return v
}

// sessionEnded reports whether err says that the session ended by itself:
// after the idle expiry or at its maximum lifetime.
func sessionEnded(err error) bool {
	var e *portal.Error
	return errors.As(err, &e) && (e.Fields["session_expired"] == true || e.Fields["session_max_lifetime_reached"] == true)
}

// publicHandler serves a page that needs no session.
type publicHandler func(w http.ResponseWriter, r *http.Request, v *view) error

func (s *server) public(h publicHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := &view{}
		if err := readForm(r); err != nil {
			s.webError(w, r, v, err)
			return
		}
		if err := h(w, r, v); err != nil {
			s.webError(w, r, v, err)
		}
	}
}

// readForm reads the form of a POST before anything looks at a field of
// it (the CSRF token first): a body over the size cap is then answered 413
// with a page that says so, not taken for a form without its CSRF token
// (403) or without its fields.
func readForm(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	parse := r.ParseForm
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		// A file upload (the inventory's CSV): its fields land in PostForm
		// too, its file in memory (the body is capped at maxBody).
		parse = func() error { return r.ParseMultipartForm(maxBody) }
	}
	if err := parse(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	return nil
}

// webError shows an error page with a readable message.
func (s *server) webError(w http.ResponseWriter, r *http.Request, v *view, err error) {
	s.logError(r, err)
	st := errorStatus(err)
	v.Title, v.ErrorPage = errorTitle(st), true
	switch {
	case st == http.StatusRequestEntityTooLarge:
		v.Error = fmt.Sprintf("The form is too large: at most %d MiB can be sent at once. Shorten what you typed or pasted, then send it again.", maxBody>>20)
	case st == http.StatusServiceUnavailable:
		v.Error = "The service is temporarily unavailable. Please try again in a moment."
	case st >= 500:
		v.Error = "Something went wrong on our side. Please try again. (request id " + requestID(r.Context()) + ")"
	default:
		v.Error = sentence(portal.ErrorMessage(err))
	}
	retryAfter(w, err)
	s.render(w, r, st, "error", v)
}

// errorTitle is the title of an error page of the status.
func errorTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusForbidden, http.StatusMethodNotAllowed:
		return "Not allowed"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusRequestEntityTooLarge:
		return "Form too large"
	case http.StatusServiceUnavailable:
		return "Temporarily unavailable"
	}
	return "Something went wrong"
}

// webNotFound is the GUI's answer for a path it does not serve: the error
// page (with the navigation when signed in) rather than plain text. A path
// served only with another method (a form's address, reloaded) is a 405.
func (s *server) webNotFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method || (m == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.webError(w, r, s.notFoundView(r), portal.Errorf(portal.EMETHOD, "this address is where a form is sent and cannot be opened by itself: go back, or use the menu"))
		return
	}
	s.pageNotFound(w, r)
}

// pageNotFound answers 404 with the error page of an address Portal does
// not serve, whatever the method.
func (s *server) pageNotFound(w http.ResponseWriter, r *http.Request) {
	s.webError(w, r, s.notFoundView(r), portal.Errorf(portal.ENOTFOUND, "page not found: check the address, or use the menu"))
}

// notFoundView is the view of an error page for a missing address: with
// the navigation when signed in.
func (s *server) notFoundView(r *http.Request) *view {
	if _, err := r.Cookie(sessionCookie); err == nil {
		if a, err := s.authenticate(r, 0); err == nil {
			return s.pageView(r, a)
		}
	}
	return &view{}
}

// redirectTo answers GET on the address of a form (after a failed form the
// browser shows it, and a reload asks for it) with the page the form is on.
func redirectTo(to func(r *http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to(r), http.StatusSeeOther)
	}
}

// sentence capitalises a service message for display.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

const flashCookie = "flash"

// flash stores a confirmation to show on the next page.
func (s *server) flash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func (s *server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	msg, _ := url.QueryUnescape(c.Value)
	return msg
}

// localPath accepts only a path on this site as a redirect target.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

// reshow shows a form's page again after the form failed with err: the
// message (v.Error), what was typed (v.Form: the posted form without the
// CSRF token and secret fields), Retry-After when there were too many
// attempts, and render called with the error's status. Errors of 500 and
// up, and those whose code is one of pass (say, the page's organization is
// not found or not allowed, so there is no page to show again), are
// returned as they are, for the error page.
func (s *server) reshow(w http.ResponseWriter, r *http.Request, v *view, err error, render func(status int) error, pass ...string) error {
	status := errorStatus(err)
	if status >= 500 || slices.Contains(pass, portal.ErrorCode(err)) {
		return err
	}
	v.Error = sentence(portal.ErrorMessage(err))
	v.Form = url.Values{}
	for k, vals := range r.PostForm {
		if k != csrfField && !isSecretField(k) {
			v.Form[k] = vals
		}
	}
	retryAfter(w, err)
	return render(status)
}

// formError shows the form page again with err (see reshow).
func (s *server) formError(w http.ResponseWriter, r *http.Request, v *view, page string, err error) error {
	return s.reshow(w, r, v, err, func(status int) error {
		s.render(w, r, status, page, v)
		return nil
	})
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// confirmPassword checks that a form's password field and its
// confirmation (the field named with "_confirm" added) are the same.
func confirmPassword(f url.Values, field string) error {
	if f.Get(field) != f.Get(field+"_confirm") {
		return portal.Errorf(portal.EINVALID, "the new password and its confirmation do not match")
	}
	return nil
}
