// Package app is Portal's service layer: every use case, with its
// validation, authorization, audit entry and outgoing mail. The JSON API and
// the HTML GUI are thin transports over it.
package app
