package server

import (
	"net/http"
	"net/url"
)

// routeRegistrar is what routes needs of an http.ServeMux.
type routeRegistrar interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// routes is the whole HTTP surface of Portal, in one place.
func (s *server) routes(mux routeRegistrar) {
	// Operations.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if !s.metricsElsewhere { // else on its own listener (PORTAL_METRICS_ADDR)
		mux.Handle("/metrics", s.metricsGate(s.metrics.handler())) // loopback and PORTAL_METRICS_ALLOW only (metrics.go)
	}
	mux.HandleFunc("GET /api/v1/openapi.json", s.openapi)

	// JSON API (Mist paths and shapes).
	mux.HandleFunc("POST /api/v1/register", s.api(s.apiRegister))
	mux.HandleFunc("POST /api/v1/register/verify/{token}", s.api(s.apiVerifyRegister))
	mux.HandleFunc("POST /api/v1/register/resend", s.api(s.apiResendVerification)) // ours
	mux.HandleFunc("POST /api/v1/login", s.api(s.apiLogin))
	mux.HandleFunc("POST /api/v1/login/two_factor", s.authed(s.apiLoginTwoFactor))
	mux.HandleFunc("POST /api/v1/logout", s.authed(s.apiLogout))
	mux.HandleFunc("GET /api/v1/self", s.authed(s.apiSelf))
	mux.HandleFunc("PUT /api/v1/self", s.authed(s.apiUpdateSelf))
	mux.HandleFunc("GET /api/v1/self/logs", s.authed(s.apiSelfLogs))
	mux.HandleFunc("GET /api/v1/self/two_factor/token", s.authed(s.apiTwoFactorToken))
	mux.HandleFunc("POST /api/v1/self/two_factor/verify", s.authed(s.apiVerifyTwoFactor))
	mux.HandleFunc("GET /api/v1/self/two_factor/recovery_codes", s.authed(s.apiRecoveryCodes))            // ours
	mux.HandleFunc("POST /api/v1/self/two_factor/recovery_codes", s.authed(s.apiRegenerateRecoveryCodes)) // ours
	mux.HandleFunc("POST /api/v1/self/update", s.authed(s.apiRequestEmailChange))
	mux.HandleFunc("GET /api/v1/self/update/verify/{token}", s.unsafeGET(s.authed(s.apiVerifyEmailChange)))
	mux.HandleFunc("GET /api/v1/self/update", s.authed(s.apiPendingEmailChange))               // ours
	mux.HandleFunc("DELETE /api/v1/self/update", s.authed(s.apiCancelEmailChange))             // ours
	mux.HandleFunc("POST /api/v1/self/update/resend", s.authed(s.apiResendEmailChange))        // ours
	mux.HandleFunc("POST /api/v1/self/update/revert/{token}", s.api(s.apiRevertEmailChange))   // ours, no session
	mux.HandleFunc("GET /api/v1/self/sessions", s.authed(s.apiListSessions))                   // ours
	mux.HandleFunc("DELETE /api/v1/self/sessions", s.authed(s.apiSignOutOtherSessions))        // ours
	mux.HandleFunc("DELETE /api/v1/self/sessions/{session_id}", s.authed(s.apiSignOutSession)) // ours
	mux.HandleFunc("GET /api/v1/self/apitokens", s.authed(s.apiListAPITokens))
	mux.HandleFunc("POST /api/v1/self/apitokens", s.authed(s.apiCreateAPIToken))
	mux.HandleFunc("GET /api/v1/self/apitokens/{apitoken_id}", s.authed(s.apiGetAPIToken))
	mux.HandleFunc("PUT /api/v1/self/apitokens/{apitoken_id}", s.authed(s.apiUpdateAPIToken))
	mux.HandleFunc("DELETE /api/v1/self/apitokens/{apitoken_id}", s.authed(s.apiDeleteAPIToken))
	mux.HandleFunc("POST /api/v1/orgs", s.authed(s.apiCreateOrg))
	mux.HandleFunc("GET /api/v1/orgs/{org_id}", s.authed(s.apiGetOrg))
	mux.HandleFunc("PUT /api/v1/orgs/{org_id}", s.authed(s.apiUpdateOrg))
	mux.HandleFunc("DELETE /api/v1/orgs/{org_id}", s.authed(s.apiDeleteOrg))
	mux.HandleFunc("GET /api/v1/orgs/{org_id}/setting", s.authed(s.apiGetOrgSetting))
	mux.HandleFunc("PUT /api/v1/orgs/{org_id}/setting", s.authed(s.apiUpdateOrgSetting))
	mux.HandleFunc("POST /api/v1/recover", s.api(s.apiRecover))
	mux.HandleFunc("POST /api/v1/recover/verify/{token}", s.api(s.apiVerifyRecover))
	mux.HandleFunc("GET /api/v1/orgs/{org_id}/sites", s.authed(s.apiListSites))
	mux.HandleFunc("POST /api/v1/orgs/{org_id}/sites", s.authed(s.apiCreateSite))
	mux.HandleFunc("GET /api/v1/sites/{site_id}", s.authed(s.apiGetSite))
	mux.HandleFunc("PUT /api/v1/sites/{site_id}", s.authed(s.apiUpdateSite))
	mux.HandleFunc("DELETE /api/v1/sites/{site_id}", s.authed(s.apiDeleteSite))
	mux.HandleFunc("GET /api/v1/orgs/{org_id}/admins", s.authed(s.apiListAdmins))
	mux.HandleFunc("PUT /api/v1/orgs/{org_id}/admins/{admin_id}", s.authed(s.apiUpdateAdmin))
	mux.HandleFunc("DELETE /api/v1/orgs/{org_id}/admins/{admin_id}", s.authed(s.apiRevokeAdmin))
	mux.HandleFunc("POST /api/v1/orgs/{org_id}/invites", s.authed(s.apiInvite))
	mux.HandleFunc("PUT /api/v1/orgs/{org_id}/invites/{invite_id}", s.authed(s.apiUpdateInvite))
	mux.HandleFunc("DELETE /api/v1/orgs/{org_id}/invites/{invite_id}", s.authed(s.apiCancelInvite))
	mux.HandleFunc("POST /api/v1/invite/verify/{token}", s.authed(s.apiAcceptInvite))
	mux.HandleFunc("POST /api/v1/invite/decline/{token}", s.api(s.apiDeclineInvite)) // ours, session optional
	mux.HandleFunc("/api/", s.api(s.apiNotFound))

	// HTML GUI.
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /{$}", s.page(s.webHome))
	mux.HandleFunc("GET /login", s.public(s.webLoginForm))
	mux.HandleFunc("POST /login", s.public(s.webLogin))
	mux.HandleFunc("GET /login/two_factor", s.page(s.webLoginTwoFactorForm))
	mux.HandleFunc("POST /login/two_factor", s.page(s.webLoginTwoFactor))
	mux.HandleFunc("GET /signup", s.public(s.webSignupForm))
	mux.HandleFunc("POST /signup", s.public(s.webSignup))
	mux.HandleFunc("GET /verify/register", s.public(s.webVerifyForm))
	mux.HandleFunc("POST /verify/register", s.public(s.webVerify))
	mux.HandleFunc("POST /verify/resend", s.public(s.webResend))
	mux.HandleFunc("POST /logout", s.page(s.webLogout))
	mux.HandleFunc("GET /account", s.page(s.webAccount))
	mux.HandleFunc("POST /account/{section}", s.page(s.webAccountSave))
	mux.HandleFunc("GET /account/two_factor", s.page(s.webTwoFactorForm))
	mux.HandleFunc("POST /account/two_factor", s.page(s.webTwoFactorVerify))
	mux.HandleFunc("GET /account/two_factor/qr.png", s.page(s.webTwoFactorQR))
	mux.HandleFunc("GET /account/two_factor/recovery_codes", s.page(s.webRecoveryCodes))
	mux.HandleFunc("POST /account/two_factor/recovery_codes", s.page(s.webRegenerateRecoveryCodes))
	mux.HandleFunc("GET /account/email", s.page(s.webEmailForm))
	mux.HandleFunc("POST /account/email", s.page(s.webEmailRequest))
	mux.HandleFunc("POST /account/apitokens/create", s.page(s.webCreateAPIToken))
	mux.HandleFunc("POST /account/email/resend", s.page(s.webEmailResend))
	mux.HandleFunc("POST /account/email/cancel", s.page(s.webEmailCancel))
	mux.HandleFunc("GET /account/email/verify", s.page(s.webEmailVerifyForm))
	mux.HandleFunc("POST /account/email/verify", s.page(s.webEmailVerify))
	mux.HandleFunc("GET /account/email/revert", s.public(s.webEmailRevertForm))
	mux.HandleFunc("POST /account/email/revert", s.public(s.webEmailRevert))
	mux.HandleFunc("GET /orgs/new", s.page(s.webCreateOrgForm))
	mux.HandleFunc("POST /orgs", s.page(s.webCreateOrg))
	mux.HandleFunc("GET /orgs/{org_id}", s.page(s.webOrg))
	mux.HandleFunc("GET /orgs/{org_id}/settings", s.page(s.webOrgSettings))
	mux.HandleFunc("POST /orgs/{org_id}/settings", s.page(s.webSaveOrgSettings))
	mux.HandleFunc("GET /recover", s.public(s.webRecoverForm))
	mux.HandleFunc("POST /recover", s.public(s.webRecover))
	mux.HandleFunc("GET /recover/verify", s.public(s.webRecoverVerifyForm))
	mux.HandleFunc("POST /recover/verify", s.public(s.webRecoverVerify))
	mux.HandleFunc("POST /orgs/{org_id}/sites", s.page(s.webCreateSite))
	mux.HandleFunc("POST /sites/{site_id}/rename", s.page(s.webRenameSite))
	mux.HandleFunc("POST /sites/{site_id}/delete", s.page(s.webDeleteSite))
	mux.HandleFunc("GET /orgs/{org_id}/admins", s.page(s.webAdmins))
	mux.HandleFunc("POST /orgs/{org_id}/invites", s.page(s.webInvite))
	mux.HandleFunc("GET /orgs/{org_id}/admins/{id}", s.page(s.webManageAdmin))
	mux.HandleFunc("POST /orgs/{org_id}/admins/{id}", s.page(s.webSaveAdmin))
	mux.HandleFunc("POST /orgs/{org_id}/admins/{id}/reinvite", s.page(s.webReinvite))
	mux.HandleFunc("POST /orgs/{org_id}/admins/{id}/revoke", s.page(s.webRevokeAdmin))
	mux.HandleFunc("GET /invite", s.webInviteLink) // signed in or not
	mux.HandleFunc("POST /invite/accept", s.page(s.webAcceptInvite))
	mux.HandleFunc("POST /invite/decline", s.public(s.webDeclineInvite))
	mux.HandleFunc("POST /invite/signup", s.public(s.webInviteSignUp))

	// Addresses of forms, opened by a reload after a failed form: the page
	// the form is on.
	mux.HandleFunc("GET /orgs", redirectTo(func(*http.Request) string { return "/" }))
	mux.HandleFunc("GET /orgs/{org_id}/sites", redirectTo(func(r *http.Request) string { return "/orgs/" + url.PathEscape(r.PathValue("org_id")) }))
	mux.HandleFunc("GET /orgs/{org_id}/invites", redirectTo(func(r *http.Request) string { return "/orgs/" + url.PathEscape(r.PathValue("org_id")) + "/admins" }))
	mux.HandleFunc("GET /account/{section}", redirectTo(func(r *http.Request) string { return "/account#" + url.PathEscape(r.PathValue("section")) }))
	mux.HandleFunc("GET /account/apitokens/create", redirectTo(func(*http.Request) string { return "/account#apitokens" }))
	mux.HandleFunc("GET /favicon.ico", redirectTo(func(*http.Request) string { return "/static/favicon.svg" }))
	// Anything else: the error page, 404 (the API has its own, in JSON).
	mux.HandleFunc("/", s.webNotFound)
}
