// Package app is Portal's service layer: every use case, with its
// validation, authorization, audit entry and outgoing mail. The JSON API and
// the HTML GUI are thin transports over it.
//
// Files by use case:
//
//	service.go           the Service, its options and the write transaction helper
//	signup.go            sign-up, verification links and their resending
//	login.go             login with its rate limits
//	session_auth.go      authenticating a session token, sliding expiry, logout
//	session_lifetime.go  how long a session lives (organizations' limits)
//	sessions.go          the user's list of sessions, signing them out
//	self.go              the user's own account (names, phone, preferences…)
//	selflogs.go          the user's own audit log
//	account_delete.go    deleting one's own account
//	retention.go         how long audit entries are kept, the purge
//	orglogs.go           an organization's audit log
//	audit_actor.go       the API token named in audit entries
//	loginfailures.go     failed logins on one's own account
//	personal_export.go   everything Portal holds about the user, as one file
//	password.go          password changes and restricted sessions
//	recover.go           password recovery by mailed link
//	email_change.go      e-mail change and its "this wasn't me" revert
//	twofactor.go         two-factor state and organizations' requirements
//	twofactor_enrol.go   enrolling and turning off a second factor
//	twofactor_login.go   the second step of a login
//	twofactor_codes.go   checking codes and recovery codes, lockout
//	recovery_codes.go    making and counting recovery codes
//	orgs.go, policy.go   organizations, sites, password policies
//	admins.go, invites.go members of an organization and invitations
//	apitokens.go         API tokens
//	inventory.go         the inventory: adding (lists and CSV files), listing,
//	                     assigning, renaming and removing devices
//	events.go            device events: reports, and silent devices marked
//	                     disconnected (run by RunCleanup)
//	notifications.go     e-mail notifications: subscriptions, notifications queued
//	                     with changes and events, digests (run by RunCleanup),
//	                     one-click unsubscribe
//	google.go            Sign in with Google: linking, signing in, unlinking (the
//	                     protocol is internal/oidclogin)
//	survey.go            the two-minute survey: its prompt (when it is due, once
//	                     per session, "Not now", "Don't ask again"), answers, and
//	                     the results operators read
//	operator.go          what an operator does from the command line: accounts
//	                     disabled, enabled, signed out; operators of the deployment
//	secret_key.go        rotating the key of the secrets at rest: re-sealing every
//	                     stored one (`portal secret-key rotate`), and the refusal of a
//	                     TOTP secret no configured key opens
//	authz.go             what each role may do (one table)
//	limits.go            every rate limit (one table)
//	links.go             checks shared by mailed links
//	validate.go          input checks (names, addresses, pages)
package app
