// Package authn holds the authentication primitives of the portal: password
// hashing, random tokens and encryption of secrets at rest. It knows nothing
// about the database or HTTP; the service layer (internal/app) decides when
// to call it and stores the results.
//
// Passwords are hashed with argon2id using the OWASP parameters (19 MiB,
// t=2, p=1) and encoded as PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// A [Hasher] bounds how many hashes run at once, because each one allocates
// Memory KiB; [Hasher.Verify] reports when a stored hash uses other
// parameters so the caller can rehash on a successful login, and
// [Hasher.Dummy] burns the same work for unknown accounts so login timing
// does not reveal which e-mail addresses exist.
//
// Tokens (sessions, e-mail links, API keys) are 256 random bits from
// [NewToken]; only [HashToken] of a token is ever stored. [SecretBox]
// encrypts secrets such as TOTP seeds with AES-256-GCM under a key read by
// [ParseKey].
//
// Two-factor authentication: [NewTOTPSecret], [MatchTOTP] (RFC 6238 with
// github.com/pquerna/otp: SHA-1, 6 digits, 30-second steps, one step of
// skew; it returns the step so the caller can refuse replays),
// [TOTPQRCode] for enrolment, and single-use recovery codes
// ([NewRecoveryCodes], stored only as [HashRecoveryCode]).
package authn
