package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/secevent"
)

const (
	sessionCookie = "sessionid"
	csrfCookie    = "csrftoken"
	csrfHeader    = "X-CSRFToken"
	csrfField     = "csrf_token"
)

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate resolves the session cookie. For an unsafe method it also
// requires the CSRF token (header for the API, form field for the GUI) to
// equal the session's; a mismatch is a 403. A restricted session is
// refused unless the route is open to it (restrict.go).
func (s *server) authenticate(r *http.Request, open restriction) (*app.Actor, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, portal.Errorf(portal.EUNAUTHORIZED, "authentication required")
	}
	a, err := s.svc.Authenticate(r.Context(), c.Value, clientIP(r))
	if err != nil {
		return nil, err
	}
	secevent.SetUser(r.Context(), a.User.ID)
	if !safeMethod(r.Method) {
		got := r.Header.Get(csrfHeader)
		if got == "" {
			got = r.PostFormValue(csrfField)
		}
		if err := a.CheckCSRF(got); err != nil {
			reason := "wrong_token"
			if got == "" {
				reason = "missing_token"
			}
			secevent.Log(r.Context(), s.log, secevent.CSRFRefused, a.User.ID, "reason", reason, "method", r.Method, "path", logPath(r))
			return nil, err
		}
	}
	if err := restrict(a, open); err != nil {
		return nil, err
	}
	return a, nil
}

// authenticateAPI authenticates a JSON API request: by an API token
// ("Authorization: Token <key>", no CSRF token needed: browsers never add
// that header by themselves) or else by the session cookie. The GUI's
// pages never accept a token (they use authenticate). A token's user whose
// password expired or whose enrolment in two-factor authentication is due
// is restricted as a session is.
func (s *server) authenticateAPI(r *http.Request, open restriction) (*app.Actor, error) {
	h := r.Header.Get("Authorization")
	scheme, key, _ := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" || !strings.EqualFold(scheme, "Token") {
		a, err := s.authenticate(r, open)
		if h != "" && portal.ErrorCode(err) == portal.EUNAUTHORIZED {
			return nil, portal.Errorf(portal.EUNAUTHORIZED, `unsupported Authorization header: send "Authorization: Token <key>" with an API token, or log in for a session`)
		}
		return a, err
	}
	a, err := s.svc.AuthenticateToken(r.Context(), strings.TrimSpace(key), clientIP(r))
	if err != nil {
		if portal.ErrorCode(err) == portal.EUNAUTHORIZED {
			secevent.Log(r.Context(), s.log, secevent.APITokenRefused, "", "reason", tokenRefusal(err), "method", r.Method, "path", logPath(r))
		}
		return nil, err
	}
	secevent.SetUser(r.Context(), a.User.ID)
	if err := restrict(a, open); err != nil {
		return nil, err
	}
	return a, nil
}

// tokenRefusal is why the service refused an API token, as a security
// event says it: expired, password_reset_required, disabled, or unknown (a
// key never issued, or of a deleted token or user: nothing tells them
// apart once deleted).
func tokenRefusal(err error) string {
	var e *portal.Error
	if errors.As(err, &e) {
		for _, k := range []string{"token_expired", "password_reset_required", "account_disabled"} {
			if v, _ := e.Fields[k].(bool); v {
				return strings.TrimPrefix(k, "token_")
			}
		}
	}
	return "unknown"
}

// cookieMaxAge is the life of the session cookies: the longest a session
// can last, its greatest maximum lifetime (portal.MaxSessionMaxLifetime
// days from the login; activity never extends a session past it). The
// server is the authority on a session's expiry: it slides with use, and a
// login that owes its second factor starts short and gets its full life
// once the code is given, neither of which sends the cookie again. A cookie
// with the session's own expiry would log the browser out too early.
const cookieMaxAge = portal.MaxSessionMaxLifetime * 24 * 60 * 60 // seconds

// setSessionCookies starts a browser session after login.
func (s *server) setSessionCookies(w http.ResponseWriter, res *app.LoginResult) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: res.Token, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: cookieMaxAge})
	// The CSRF cookie is readable by scripts on purpose (double submit).
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: res.Session.CSRFToken, Path: "/", Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: cookieMaxAge})
}

// setRotatedSessionCookie sets the new token of the actor's session after
// the second factor was passed (app.PassLoginTwoFactor); "" changes
// nothing. The csrftoken cookie is sent again with the same value: the
// session keeps its CSRF token, which Mist clients read only once.
func (s *server) setRotatedSessionCookie(w http.ResponseWriter, a *app.Actor, token string) {
	if token != "" && a.Session != nil {
		s.setSessionCookies(w, &app.LoginResult{Token: token, Session: a.Session, User: a.User})
	}
}

func (s *server) clearSessionCookies(w http.ResponseWriter) {
	for _, name := range []string{sessionCookie, csrfCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0), Secure: s.secure, SameSite: http.SameSiteLaxMode})
	}
}

func client(r *http.Request) app.Client {
	return app.Client{IP: clientIP(r), UserAgent: r.UserAgent()}
}

// loginClient is client with the session cookie the request came with: a
// login replaces that session when it is the same user's (app.Login).
func loginClient(r *http.Request) app.Client {
	c := client(r)
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.SessionToken = ck.Value
	}
	return c
}

// unsafeGET gives a GET that changes state (Mist's e-mail confirmation
// link, kept for Mist clients) the cross-origin checks of unsafe methods:
// a browser's request from another site (Sec-Fetch-Site, Origin) is
// refused as a POST would be. Clients that send neither header, as Mist's
// SDK, pass.
func (s *server) unsafeGET(h http.Handler) http.Handler { return unsafeGETRoute{s: s, h: h} }

// unsafeGETRoute is a route given the checks of unsafeGET.
type unsafeGETRoute struct {
	s *server
	h http.Handler
}

func (rt unsafeGETRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	probe := r.Clone(r.Context())
	probe.Method = http.MethodPost
	if err := rt.s.cop.Check(probe); err != nil {
		rt.s.crossOriginDenied(w, r)
		return
	}
	rt.h.ServeHTTP(w, r)
}

// crossOriginDenied answers an unsafe request that a browser sent from
// another site (refused by http.CrossOriginProtection): {"detail": …} on the
// API, an error page in the GUI.
func (s *server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	secevent.Log(r.Context(), s.log, secevent.CrossOriginRefused, "", "method", r.Method, "path", logPath(r),
		"sec_fetch_site", portal.Truncate(r.Header.Get("Sec-Fetch-Site"), 32), "origin", portal.Truncate(r.Header.Get("Origin"), 200))
	err := portal.Errorf(portal.EFORBIDDEN, "cross-origin request refused: this request came from another site")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.apiError(w, r, err)
		return
	}
	s.webError(w, r, &view{}, err)
}
