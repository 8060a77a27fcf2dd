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
	mux.Handle("POST /api/v1/login/two_factor", s.authed(s.apiLoginTwoFactor, open(whenPending)))
	mux.Handle("POST /api/v1/logout", s.authed(s.apiLogout, open(whenPending, whenRestricted, whenEnrolDue)))
	mux.Handle("GET /api/v1/self", s.authed(s.apiSelf, open(whenPending, whenRestricted, whenEnrolDue)))
	mux.Handle("PUT /api/v1/self", s.authed(s.apiUpdateSelf, open(whenRestricted, whenEnrolDue)))
	mux.Handle("DELETE /api/v1/self", s.authed(s.apiDeleteSelf))
	mux.Handle("GET /api/v1/self/logs", s.authed(s.apiSelfLogs))
	mux.Handle("GET /api/v1/self/login_failures", s.authed(s.apiLoginFailures))
	mux.Handle("GET /api/v1/self/export", s.authed(s.apiExport)) // ours
	mux.Handle("GET /api/v1/self/two_factor/token", s.authed(s.apiTwoFactorToken, open(whenEnrolDue)))
	mux.Handle("POST /api/v1/self/two_factor/verify", s.authed(s.apiVerifyTwoFactor, open(whenEnrolDue)))
	mux.Handle("GET /api/v1/self/two_factor/recovery_codes", s.authed(s.apiRecoveryCodes, open(whenEnrolDue))) // ours
	mux.Handle("POST /api/v1/self/two_factor/recovery_codes", s.authed(s.apiRegenerateRecoveryCodes))          // ours
	mux.Handle("POST /api/v1/self/update", s.authed(s.apiRequestEmailChange))
	mux.Handle("GET /api/v1/self/update/verify/{token}", s.unsafeGET(s.authed(s.apiVerifyEmailChange)))
	mux.Handle("GET /api/v1/self/update", s.authed(s.apiPendingEmailChange))                 // ours
	mux.Handle("DELETE /api/v1/self/update", s.authed(s.apiCancelEmailChange))               // ours
	mux.Handle("POST /api/v1/self/update/resend", s.authed(s.apiResendEmailChange))          // ours
	mux.HandleFunc("POST /api/v1/self/update/revert/{token}", s.api(s.apiRevertEmailChange)) // ours, no session
	mux.Handle("GET /api/v1/self/sessions", s.authed(s.apiListSessions))                     // ours
	mux.Handle("DELETE /api/v1/self/sessions", s.authed(s.apiSignOutOtherSessions))          // ours
	mux.Handle("DELETE /api/v1/self/sessions/{session_id}", s.authed(s.apiSignOutSession))   // ours
	mux.Handle("GET /api/v1/self/apitokens", s.authed(s.apiListAPITokens))
	mux.Handle("POST /api/v1/self/apitokens", s.authed(s.apiCreateAPIToken))
	mux.Handle("GET /api/v1/self/apitokens/{apitoken_id}", s.authed(s.apiGetAPIToken))
	mux.Handle("PUT /api/v1/self/apitokens/{apitoken_id}", s.authed(s.apiUpdateAPIToken))
	mux.Handle("DELETE /api/v1/self/apitokens/{apitoken_id}", s.authed(s.apiDeleteAPIToken))
	mux.Handle("POST /api/v1/orgs", s.authed(s.apiCreateOrg))
	mux.Handle("GET /api/v1/orgs/{org_id}", s.authed(s.apiGetOrg))
	mux.Handle("PUT /api/v1/orgs/{org_id}", s.authed(s.apiUpdateOrg))
	mux.Handle("DELETE /api/v1/orgs/{org_id}", s.authed(s.apiDeleteOrg))
	mux.Handle("GET /api/v1/orgs/{org_id}/setting", s.authed(s.apiGetOrgSetting))
	mux.Handle("PUT /api/v1/orgs/{org_id}/setting", s.authed(s.apiUpdateOrgSetting))
	mux.HandleFunc("POST /api/v1/recover", s.api(s.apiRecover))
	mux.HandleFunc("POST /api/v1/recover/verify/{token}", s.api(s.apiVerifyRecover))
	mux.Handle("GET /api/v1/orgs/{org_id}/sites", s.authed(s.apiListSites))
	mux.Handle("GET /api/v1/orgs/{org_id}/logs", s.authed(s.apiOrgLogs))
	mux.Handle("POST /api/v1/orgs/{org_id}/sites", s.authed(s.apiCreateSite))
	mux.Handle("GET /api/v1/sites/{site_id}", s.authed(s.apiGetSite))
	mux.Handle("PUT /api/v1/sites/{site_id}", s.authed(s.apiUpdateSite))
	mux.Handle("DELETE /api/v1/sites/{site_id}", s.authed(s.apiDeleteSite))
	mux.Handle("GET /api/v1/orgs/{org_id}/inventory", s.authed(s.apiListInventory))
	mux.Handle("PUT /api/v1/orgs/{org_id}/inventory", s.authed(s.apiAssignInventory))
	mux.Handle("POST /api/v1/orgs/{org_id}/inventory/devices", s.authed(s.apiAddDevices))                 // ours
	mux.Handle("PUT /api/v1/orgs/{org_id}/inventory/devices/{device_id}", s.authed(s.apiRenameDevice))    // ours
	mux.Handle("DELETE /api/v1/orgs/{org_id}/inventory/devices/{device_id}", s.authed(s.apiRemoveDevice)) // ours
	mux.Handle("POST /api/v1/orgs/{org_id}/events", s.authed(s.apiIngestEvents))                          // ours
	mux.Handle("GET /api/v1/orgs/{org_id}/events", s.authed(s.apiListEvents))                             // ours
	mux.Handle("POST /api/v1/orgs/{org_id}/subscriptions", s.authed(s.apiSubscribeOrg))
	mux.Handle("DELETE /api/v1/orgs/{org_id}/subscriptions", s.authed(s.apiUnsubscribeOrg))
	mux.Handle("POST /api/v1/sites/{site_id}/subscriptions", s.authed(s.apiSubscribeSite))
	mux.Handle("DELETE /api/v1/sites/{site_id}/subscriptions", s.authed(s.apiUnsubscribeSite))
	mux.Handle("GET /api/v1/self/subscriptions", s.authed(s.apiListSubscriptions))
	mux.Handle("GET /api/v1/self/survey", s.authed(s.apiSurveyStatus))     // ours
	mux.Handle("POST /api/v1/self/survey", s.authed(s.apiSurveyAnswer))    // ours
	mux.Handle("GET /api/v1/survey/results", s.authed(s.apiSurveyResults)) // ours, operators only
	mux.Handle("GET /api/v1/orgs/{org_id}/admins", s.authed(s.apiListAdmins))
	mux.Handle("PUT /api/v1/orgs/{org_id}/admins/{admin_id}", s.authed(s.apiUpdateAdmin))
	mux.Handle("DELETE /api/v1/orgs/{org_id}/admins/{admin_id}", s.authed(s.apiRevokeAdmin))
	mux.Handle("POST /api/v1/orgs/{org_id}/invites", s.authed(s.apiInvite))
	mux.Handle("PUT /api/v1/orgs/{org_id}/invites/{invite_id}", s.authed(s.apiUpdateInvite))
	mux.Handle("DELETE /api/v1/orgs/{org_id}/invites/{invite_id}", s.authed(s.apiCancelInvite))
	mux.Handle("POST /api/v1/invite/verify/{token}", s.authed(s.apiAcceptInvite))
	mux.HandleFunc("POST /api/v1/invite/decline/{token}", s.api(s.apiDeclineInvite)) // ours, session optional
	// Sign in with Google (api_google.go): only when PORTAL_GOOGLE_CLIENT_ID
	// is set, else these paths are 404.
	if s.svc.GoogleEnabled() {
		mux.Handle("GET /api/v1/self/oauth/google", s.authed(s.apiGoogleLinkURL))
		mux.Handle("POST /api/v1/self/oauth/google", s.authed(s.apiGoogleLink))
		mux.HandleFunc("GET /api/v1/login/oauth/google", s.api(s.apiGoogleLoginURL))
		mux.HandleFunc("POST /api/v1/login/oauth/google", s.api(s.apiGoogleLogin))
		mux.Handle("DELETE /api/v1/login/oauth/google", s.authed(s.apiGoogleUnlink))
	}
	mux.HandleFunc("/api/", s.api(s.apiNotFound))

	// HTML GUI.
	mux.Handle("GET /static/", staticHandler())
	mux.Handle("GET /{$}", s.page(s.webHome))
	mux.HandleFunc("GET /login", s.public(s.webLoginForm))
	mux.HandleFunc("POST /login", s.public(s.webLogin))
	mux.Handle("GET /login/two_factor", s.page(s.webLoginTwoFactorForm, open(whenPending)))
	mux.Handle("POST /login/two_factor", s.page(s.webLoginTwoFactor, open(whenPending)))
	mux.HandleFunc("GET /signup", s.public(s.webSignupForm))
	mux.HandleFunc("POST /signup", s.public(s.webSignup))
	mux.HandleFunc("GET /verify/register", s.public(s.webVerifyForm))
	mux.HandleFunc("POST /verify/register", s.public(s.webVerify))
	mux.HandleFunc("POST /verify/resend", s.public(s.webResend))
	mux.Handle("POST /logout", s.page(s.webLogout, open(whenPending, whenRestricted, whenEnrolDue)))
	mux.Handle("GET /account", s.page(s.webAccount, open(whenRestricted, whenEnrolDue)))
	mux.Handle("POST /account/{section}", s.page(s.webAccountSave))
	mux.Handle("POST /account/password", s.page(s.saveSection("password"), open(whenRestricted, whenEnrolDue)))
	mux.Handle("POST /account/"+twoFactorSection, s.page(s.saveSection(twoFactorSection), open(whenEnrolDue)))
	mux.Handle("GET /account/two_factor", s.page(s.webTwoFactorForm, open(whenEnrolDue)))
	mux.Handle("POST /account/two_factor", s.page(s.webTwoFactorVerify, open(whenEnrolDue)))
	mux.Handle("GET /account/two_factor/qr.png", s.page(s.webTwoFactorQR, open(whenEnrolDue)))
	mux.Handle("GET /account/two_factor/recovery_codes", s.page(s.webRecoveryCodes))
	mux.Handle("POST /account/two_factor/recovery_codes", s.page(s.webRegenerateRecoveryCodes))
	mux.Handle("GET /account/email", s.page(s.webEmailForm))
	mux.Handle("POST /account/email", s.page(s.webEmailRequest))
	// Before API Tokens was a section like the others, its Create form was
	// sent here: kept for pages still open.
	mux.Handle("POST /account/apitokens/create", s.page(s.saveSection("apitokens")))
	mux.Handle("POST /account/email/resend", s.page(s.webEmailResend))
	mux.Handle("POST /account/email/cancel", s.page(s.webEmailCancel))
	mux.Handle("GET /account/email/verify", s.page(s.webEmailVerifyForm))
	mux.Handle("POST /account/email/verify", s.page(s.webEmailVerify))
	mux.HandleFunc("GET /account/email/revert", s.public(s.webEmailRevertForm))
	mux.HandleFunc("POST /account/email/revert", s.public(s.webEmailRevert))
	mux.Handle("GET /account/notifications", s.page(s.webNotifications))
	mux.Handle("POST /account/notifications", s.page(s.webSaveNotification))
	mux.HandleFunc("GET /unsubscribe/{token}", s.public(s.webUnsubscribeForm)) // changes nothing
	mux.HandleFunc("POST /unsubscribe/{token}", s.public(s.webUnsubscribe))    // RFC 8058 one-click, no session
	mux.Handle("GET /account/delete", s.page(s.webDeleteAccountForm))
	mux.Handle("GET /account/export", s.page(s.webExport))
	mux.Handle("POST /account/delete", s.page(s.webDeleteAccount))
	mux.Handle("GET /orgs/new", s.page(s.webCreateOrgForm))
	mux.Handle("POST /orgs", s.page(s.webCreateOrg))
	mux.Handle("GET /orgs/{org_id}", s.page(s.webOrg))
	mux.Handle("GET /orgs/{org_id}/settings", s.page(s.webOrgSettings))
	mux.Handle("GET /orgs/{org_id}/logs", s.page(s.webOrgLogs))
	mux.Handle("GET /orgs/{org_id}/logs.csv", s.page(s.webOrgLogsCSV))
	mux.Handle("POST /orgs/{org_id}/settings", s.page(s.webSaveOrgSettings))
	mux.Handle("POST /orgs/{org_id}/settings/retention", s.page(s.webSaveAuditRetention))
	mux.HandleFunc("GET /recover", s.public(s.webRecoverForm))
	mux.HandleFunc("POST /recover", s.public(s.webRecover))
	mux.HandleFunc("GET /recover/verify", s.public(s.webRecoverVerifyForm))
	mux.HandleFunc("POST /recover/verify", s.public(s.webRecoverVerify))
	mux.Handle("POST /orgs/{org_id}/sites", s.page(s.webCreateSite))
	mux.Handle("POST /sites/{site_id}/rename", s.page(s.webRenameSite))
	mux.Handle("POST /sites/{site_id}/delete", s.page(s.webDeleteSite))
	mux.Handle("GET /orgs/{org_id}/inventory", s.page(s.webInventory))
	mux.Handle("POST /orgs/{org_id}/inventory/devices", s.page(s.webAddDevice))
	mux.Handle("POST /orgs/{org_id}/inventory/upload", s.page(s.webUploadDevices))
	mux.Handle("POST /orgs/{org_id}/inventory/assign", s.page(s.webAssignDevice))
	mux.Handle("POST /orgs/{org_id}/inventory/{device_id}/rename", s.page(s.webRenameDevice))
	mux.Handle("POST /orgs/{org_id}/inventory/{device_id}/remove", s.page(s.webRemoveDevice))
	mux.Handle("GET /orgs/{org_id}/admins", s.page(s.webAdmins))
	mux.Handle("POST /orgs/{org_id}/invites", s.page(s.webInvite))
	mux.Handle("GET /orgs/{org_id}/admins/{id}", s.page(s.webManageAdmin))
	mux.Handle("POST /orgs/{org_id}/admins/{id}", s.page(s.webSaveAdmin))
	mux.Handle("POST /orgs/{org_id}/admins/{id}/reinvite", s.page(s.webReinvite))
	mux.Handle("POST /orgs/{org_id}/admins/{id}/revoke", s.page(s.webRevokeAdmin))
	mux.HandleFunc("GET /invite", s.webInviteLink) // signed in or not
	mux.Handle("POST /invite/accept", s.page(s.webAcceptInvite))
	mux.HandleFunc("POST /invite/decline", s.public(s.webDeclineInvite))
	mux.HandleFunc("POST /invite/signup", s.public(s.webInviteSignUp))
	mux.Handle("POST /invites/{invite_id}/accept", s.page(s.webAcceptMyInvite))   // from the home page
	mux.Handle("POST /invites/{invite_id}/decline", s.page(s.webDeclineMyInvite)) // from the home page
	mux.Handle("GET /survey", s.page(s.webSurveyForm))
	mux.Handle("POST /survey", s.page(s.webSurveyAnswer))
	mux.Handle("GET /survey/thanks", s.page(s.webSurveyThanks))
	mux.Handle("POST /survey/prompt", s.page(s.webSurveyPrompt)) // the prompt's Not now and Don't ask again
	mux.Handle("GET /survey/results", s.page(s.webSurveyResults))
	mux.Handle("GET /survey/results.csv", s.page(s.webSurveyResultsCSV))

	// Sign in with Google (web_google.go): only when PORTAL_GOOGLE_CLIENT_ID
	// is set, else these paths are 404.
	if s.svc.GoogleEnabled() {
		mux.HandleFunc("POST /login/google", s.public(s.webGoogleLoginStart))
		mux.HandleFunc("GET /oauth/google/callback", s.webGoogleCallback) // a link needs the session that started it
		mux.Handle("POST /account/social/link", s.page(s.webGoogleLinkStart))
	}

	// Addresses of forms, opened by a reload after a failed form: the page
	// the form is on.
	mux.HandleFunc("GET /orgs", redirectTo(func(*http.Request) string { return "/" }))
	mux.HandleFunc("GET /orgs/{org_id}/sites", redirectTo(func(r *http.Request) string { return "/orgs/" + url.PathEscape(r.PathValue("org_id")) }))
	mux.HandleFunc("GET /orgs/{org_id}/settings/retention", redirectTo(func(r *http.Request) string { return "/orgs/" + url.PathEscape(r.PathValue("org_id")) + "/settings" }))
	mux.HandleFunc("GET /orgs/{org_id}/inventory/{action}", redirectTo(func(r *http.Request) string { return "/orgs/" + url.PathEscape(r.PathValue("org_id")) + "/inventory" }))
	mux.HandleFunc("GET /orgs/{org_id}/invites", redirectTo(func(r *http.Request) string { return "/orgs/" + url.PathEscape(r.PathValue("org_id")) + "/admins" }))
	mux.HandleFunc("GET /account/{section}", redirectTo(func(r *http.Request) string { return "/account#" + url.PathEscape(r.PathValue("section")) }))
	mux.HandleFunc("GET /account/apitokens/create", redirectTo(func(*http.Request) string { return "/account#apitokens" }))
	mux.HandleFunc("GET /survey/prompt", redirectTo(func(*http.Request) string { return "/" }))
	mux.HandleFunc("GET /favicon.ico", redirectTo(func(*http.Request) string { return "/static/favicon.svg" }))
	// Anything else: the error page, 404 (the API has its own, in JSON).
	mux.HandleFunc("/", s.webNotFound)
}
