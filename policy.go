package portal

// PasswordPolicy is an organization's password policy, set by its Super
// Users. The first five fields are Mist's (org_setting.password_policy);
// HistoryCount, BlockCommon and MinCharacterClasses are Portal's own. A
// policy that is not Enabled imposes nothing; its values are kept.
type PasswordPolicy struct {
	Enabled               bool
	MinLength             int  // characters, MinPasswordLen..MaxPasswordLen
	RequiresSpecialChar   bool // at least one character that is neither a letter nor a digit
	RequiresTwoFactorAuth bool // members without two-factor authentication must enrol (app/twofactor.go)
	ExpiryInDays          int  // 0: passwords never expire
	HistoryCount          int  // no reuse of the last N passwords; 0: no check
	BlockCommon           bool // a stricter bar for guessable passwords (app/guessable.go); common ones are always refused
	MinCharacterClasses   int  // of lower case, upper case, digits, special characters; 0..4
	TwoFactorGraceDays    int  // days a member has to enrol once two-factor authentication is required; 0..90
}

// Limits of the password policy fields.
const (
	MaxPolicyExpiryDays      = 3650
	MaxPolicyHistoryCount    = 24
	MaxPolicyCharacterClass  = 4
	MaxPolicyTwoFactorGrace  = 90 // days
	DefaultPolicyMinLength   = MinPasswordLen
	PrivilegedSessionMinutes = 10 // a password change without the old password is allowed this long after login
)

// DefaultPasswordPolicy is the policy of an organization that never set one.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: DefaultPolicyMinLength}
}
