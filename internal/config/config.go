// Package config loads Portal's configuration from flags and PORTAL_*
// environment variables (a flag wins over its variable).
package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"portal/internal/authn"
)

// Config is the whole configuration of one portal process.
type Config struct {
	Addr               string
	BaseURL            string
	DataDir            string
	DatabaseURL        string
	SMTPURL            string
	SMTPCAFile         string              // PORTAL_SMTP_CA_FILE
	SMTPCAs            []*x509.Certificate // its certificates, read by Validate: trusted for the SMTP server besides the system's roots
	MailFrom           string
	SecretKey          string
	GoogleClientID     string
	GoogleClientSecret string
	GoogleIssuer       string
	TrustedProxiesRaw  string
	// TrustedProxies is TrustedProxiesRaw parsed by Validate.
	TrustedProxies []netip.Prefix
	// MetricsAddr, when set, is the only address /metrics is served on.
	MetricsAddr     string
	MetricsAllowRaw string
	// MetricsAllow is MetricsAllowRaw parsed by Validate: the clients
	// besides loopback that may read /metrics on the main address.
	MetricsAllow []netip.Prefix
	// ShutdownDrainRaw is the drain period as given; ShutdownDrain is it
	// parsed by Validate: how long, after SIGTERM, Portal reports not
	// ready and closes keep-alive connections before it stops listening.
	ShutdownDrainRaw string
	ShutdownDrain    time.Duration
	// DeviceTimeoutRaw is PORTAL_DEVICE_TIMEOUT as given; DeviceTimeout is
	// it parsed: how long a device may report nothing before it is marked
	// disconnected.
	DeviceTimeoutRaw string
	DeviceTimeout    time.Duration
	// NotifyWindowRaw is PORTAL_NOTIFY_WINDOW as given; NotifyWindow is it
	// parsed: at most one notification digest per user per window.
	NotifyWindowRaw string
	NotifyWindow    time.Duration
	// AutoMigrateRaw is PORTAL_AUTO_MIGRATE as given; AutoMigrate is it
	// parsed by Validate: whether serve applies pending migrations itself
	// (true by default, for one machine) or refuses to start until
	// `portal migrate` has applied them.
	AutoMigrateRaw string
	AutoMigrate    bool
	// InstanceID names this process in the mail outbox's leases
	// (PORTAL_INSTANCE_ID); empty: Instance derives it.
	InstanceID string
	// OperatorsRaw is PORTAL_OPERATORS as given; Operators is it parsed by
	// Validate: the email addresses of the deployment's operators, who
	// read the survey's results.
	OperatorsRaw string
	Operators    []string
	// SecretKeyPreviousRaw is PORTAL_SECRET_KEY_PREVIOUS as given;
	// SecretKeysPrevious is it parsed by Validate (authn.ParseKey): earlier
	// secret keys, under which stored secrets still open while `portal
	// secret-key rotate` has not re-sealed them under SecretKey.
	SecretKeyPreviousRaw string
	SecretKeysPrevious   [][]byte
}

// Postgres reports whether the database URL selects PostgreSQL.
func (c *Config) Postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// SQLitePath is the SQLite database file used when no PostgreSQL URL is set.
func (c *Config) SQLitePath() string {
	if c.DatabaseURL != "" && !c.Postgres() {
		return strings.TrimPrefix(c.DatabaseURL, "sqlite://")
	}
	return filepath.Join(c.DataDir, "portal.db")
}

type option struct {
	flag, env, def, usage string
	dst                   *string
}

func (c *Config) options() []option {
	return []option{
		{"addr", "PORTAL_ADDR", "127.0.0.1:8080", "listen address", &c.Addr},
		{"base-url", "PORTAL_BASE_URL", "", "public URL used in emailed links and OAuth redirects (default http:// + addr)", &c.BaseURL},
		{"data-dir", "PORTAL_DATA_DIR", "./data", "SQLite database and generated key material", &c.DataDir},
		{"database-url", "PORTAL_DATABASE_URL", "", "postgres://… selects PostgreSQL; a plain file path, a SQLite file (default: SQLite file in the data dir)", &c.DatabaseURL},
		{"smtp-url", "PORTAL_SMTP_URL", "", "smtp://[user:pass@]host:port or smtps://… (default: log mail, do not send)", &c.SMTPURL},
		{"smtp-ca-file", "PORTAL_SMTP_CA_FILE", "", "PEM file of CA certificates trusted for the SMTP server's certificate in addition to the system's (a private CA)", &c.SMTPCAFile},
		{"mail-from", "PORTAL_MAIL_FROM", "Portal <no-reply@localhost>", "sender address", &c.MailFrom},
		{"secret-key", "PORTAL_SECRET_KEY", "", "32 random bytes, base64 or hex, for secrets at rest (generated in the data dir with SQLite; required with PostgreSQL)", &c.SecretKey},
		{"secret-key-previous", "PORTAL_SECRET_KEY_PREVIOUS", "", "comma-separated earlier secret keys, while rotating the key: secrets sealed under them still open, new ones are sealed under -secret-key (`portal secret-key rotate` re-seals them; then remove them)", &c.SecretKeyPreviousRaw},
		{"google-client-id", "PORTAL_GOOGLE_CLIENT_ID", "", "Google sign-in client id (unset: feature hidden)", &c.GoogleClientID},
		{"google-client-secret", "PORTAL_GOOGLE_CLIENT_SECRET", "", "Google sign-in client secret", &c.GoogleClientSecret},
		{"trusted-proxies", "PORTAL_TRUSTED_PROXIES", "", "comma-separated addresses or CIDR ranges of load balancers whose X-Forwarded-For is trusted", &c.TrustedProxiesRaw},
		{"metrics-addr", "PORTAL_METRICS_ADDR", "", "serve /metrics only on this separate listen address (default: on the main address, to loopback and -metrics-allow clients)", &c.MetricsAddr},
		{"metrics-allow", "PORTAL_METRICS_ALLOW", "", "comma-separated addresses or CIDR ranges that, besides loopback, may read /metrics on the main address", &c.MetricsAllowRaw},
		{"shutdown-drain", "PORTAL_SHUTDOWN_DRAIN", "5s", "on SIGTERM, how long to report not ready on /readyz and close keep-alive connections before no longer accepting new ones (a Go duration: 5s, 500ms, 0)", &c.ShutdownDrainRaw},
		{"auto-migrate", "PORTAL_AUTO_MIGRATE", "true", "whether serve applies pending database migrations itself (false: it refuses to start until `portal migrate` has applied them)", &c.AutoMigrateRaw},
		{"instance-id", "PORTAL_INSTANCE_ID", "", "this instance's name in the mail outbox's leases, the same across its restarts and unique among instances running at once (default: host name and database file or data directory)", &c.InstanceID},
		{"device-timeout", "PORTAL_DEVICE_TIMEOUT", "10m", "how long a device of the inventory may report no event before it is marked disconnected with a device_down event (a Go duration: 10m, 90s)", &c.DeviceTimeoutRaw},
		{"notify-window", "PORTAL_NOTIFY_WINDOW", "5m", "email notifications: at most one digest mail per user per window, critical events at once (a Go duration: 5m, 1s)", &c.NotifyWindowRaw},
		{"operators", "PORTAL_OPERATORS", "", "comma-separated email addresses of the deployment's operators, who read the survey's results (more with `portal operator add`)", &c.OperatorsRaw},
		{"google-issuer", "PORTAL_GOOGLE_ISSUER", "https://accounts.google.com", "OpenID issuer for Google sign-in", &c.GoogleIssuer},
	}
}

// Load parses args (without the program name and subcommand) over the
// environment read through getenv.
func Load(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, o := range c.options() {
		def := o.def
		if v := getenv(o.env); v != "" {
			def = v
		}
		fs.StringVar(o.dst, o.flag, def, o.usage+" ($"+o.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c, c.Validate()
}

// Validate checks the configuration for mistakes a user can fix.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("PORTAL_ADDR %q: %v", c.Addr, err)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("PORTAL_BASE_URL %q must be an absolute http:// or https:// URL", c.BaseURL)
	}
	if c.DataDir == "" {
		return errors.New("PORTAL_DATA_DIR must not be empty")
	}
	if strings.Contains(c.DatabaseURL, "://") && !c.Postgres() && !strings.HasPrefix(c.DatabaseURL, "sqlite://") {
		// A mistyped URL ("postgress://…") would otherwise be taken for a
		// SQLite file path and create a folder named after the scheme.
		scheme, _, _ := strings.Cut(c.DatabaseURL, "://")
		return fmt.Errorf("PORTAL_DATABASE_URL: unsupported scheme %q: use postgres:// or postgresql:// for PostgreSQL, or a plain file path for a SQLite file", scheme)
	}
	if c.Postgres() && c.SecretKey == "" {
		return errors.New("PORTAL_SECRET_KEY is required with PostgreSQL so that all instances share it")
	}
	if c.SecretKeysPrevious, err = parsePreviousKeys(c.SecretKey, c.SecretKeyPreviousRaw); err != nil {
		return err
	}
	if c.TrustedProxies, err = parsePrefixes("PORTAL_TRUSTED_PROXIES", c.TrustedProxiesRaw); err != nil {
		return err
	}
	if c.MetricsAllow, err = parsePrefixes("PORTAL_METRICS_ALLOW", c.MetricsAllowRaw); err != nil {
		return err
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("PORTAL_METRICS_ADDR %q: %v", c.MetricsAddr, err)
		}
		if c.MetricsAddr == c.Addr {
			return fmt.Errorf("PORTAL_METRICS_ADDR %q must differ from PORTAL_ADDR: it is a separate listener for /metrics", c.MetricsAddr)
		}
	}
	if c.ShutdownDrain, err = time.ParseDuration(c.ShutdownDrainRaw); err != nil || c.ShutdownDrain < 0 {
		return fmt.Errorf("PORTAL_SHUTDOWN_DRAIN %q must be a duration of zero or more, such as 5s, 500ms or 0", c.ShutdownDrainRaw)
	}
	if c.DeviceTimeout, err = time.ParseDuration(c.DeviceTimeoutRaw); err != nil || c.DeviceTimeout < time.Second {
		return fmt.Errorf("PORTAL_DEVICE_TIMEOUT %q must be a duration of at least 1s, such as 10m", c.DeviceTimeoutRaw)
	}
	if c.NotifyWindow, err = time.ParseDuration(c.NotifyWindowRaw); err != nil || c.NotifyWindow < time.Second || c.NotifyWindow > 24*time.Hour {
		return fmt.Errorf("PORTAL_NOTIFY_WINDOW %q must be a duration from 1s to 24h, such as 5m", c.NotifyWindowRaw)
	}
	if c.SMTPCAFile != "" && strings.TrimSpace(c.SMTPURL) == "" {
		return errors.New("PORTAL_SMTP_CA_FILE is set but PORTAL_SMTP_URL is not: the CA file is for the SMTP server's certificate, and without an SMTP URL mail is only logged")
	}
	if c.SMTPCAs, err = readCAFile("PORTAL_SMTP_CA_FILE", c.SMTPCAFile); err != nil {
		return err
	}
	if c.AutoMigrate, err = strconv.ParseBool(c.AutoMigrateRaw); err != nil {
		return fmt.Errorf("PORTAL_AUTO_MIGRATE %q must be true or false", c.AutoMigrateRaw)
	}
	if c.Operators, err = parseAddresses("PORTAL_OPERATORS", c.OperatorsRaw); err != nil {
		return err
	}
	if (c.GoogleClientID == "") != (c.GoogleClientSecret == "") {
		return errors.New("PORTAL_GOOGLE_CLIENT_ID and PORTAL_GOOGLE_CLIENT_SECRET must be set together")
	}
	return nil
}

// parsePreviousKeys parses PORTAL_SECRET_KEY_PREVIOUS: comma-separated
// keys in PORTAL_SECRET_KEY's formats, none the current key (compared as
// bytes, whatever the formats; a current key generated into the data
// directory is compared when it is read, by authn.NewSecretBox) nor
// another previous key. Errors say which key by its place, never the key.
func parsePreviousKeys(current, raw string) ([][]byte, error) {
	const name = "PORTAL_SECRET_KEY_PREVIOUS"
	cur, curErr := authn.ParseKey(current) // a malformed current key is PORTAL_SECRET_KEY's error, when it is read
	var out [][]byte
	var places []int // of out's keys in the list, from 1
	for i, f := range strings.Split(raw, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		k, err := authn.ParseKey(f)
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %v", name, i+1, strings.TrimPrefix(err.Error(), "authn: "))
		}
		if current != "" && curErr == nil && bytes.Equal(k, cur) {
			return nil, fmt.Errorf("%s: key %d is PORTAL_SECRET_KEY itself: a previous key is one the current key replaced (remove it, or set PORTAL_SECRET_KEY to the new key)", name, i+1)
		}
		for j, o := range out {
			if bytes.Equal(k, o) {
				return nil, fmt.Errorf("%s: key %d repeats key %d", name, i+1, places[j])
			}
		}
		out, places = append(out, k), append(places, i+1)
	}
	return out, nil
}

// parsePrefixes parses a comma-separated list of IP addresses and CIDR
// ranges (an address is a range of one); name is the variable, for errors.
func parsePrefixes(name, raw string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(raw, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is neither an IP address nor a CIDR range", name, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// readCAFile reads the PEM certificates of a CA file: at least one, each
// one a certificate that parses, and nothing else (a private key given by
// mistake is refused rather than ignored). name is the variable, for
// errors; an empty path gives none.
func readCAFile(name, path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	var certs []*x509.Certificate
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: %s holds a PEM block of type %q: give only CA certificates (BEGIN CERTIFICATE)", name, path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d in %s: %v", name, len(certs)+1, path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in %s", name, path)
	}
	return certs, nil
}

// parseAddresses parses a comma-separated list of email addresses (bare,
// without names); name is the variable, for errors.
func parseAddresses(name, raw string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(raw, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if a, err := mail.ParseAddress(f); err != nil || a.Address != f || a.Name != "" {
			return nil, fmt.Errorf("%s: %q is not an email address (give bare addresses separated by commas, such as ann@example.com,bob@example.com)", name, f)
		}
		out = append(out, f)
	}
	return out, nil
}

// Instance returns PORTAL_INSTANCE_ID or, unset, the host name and the
// absolute path of the SQLite file (with PostgreSQL, of the data
// directory): what stays the same when this process restarts, so that it
// recognises the mail it had claimed before a crash, and differs between
// instances on different hosts or with different data.
func (c *Config) Instance() string {
	if c.InstanceID != "" {
		return c.InstanceID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	path := c.DataDir
	if !c.Postgres() {
		path = c.SQLitePath()
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return host + ":" + path
}

// SecureCookies reports whether cookies must carry the Secure attribute.
func (c *Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }
