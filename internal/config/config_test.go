package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portal/internal/smtptest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.BaseURL != "http://127.0.0.1:8080" || c.DataDir != "./data" || c.Postgres() ||
		c.SQLitePath() != "data/portal.db" || c.MailFrom != "Portal <no-reply@localhost>" || c.SecureCookies() {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestFlagWinsOverEnv(t *testing.T) {
	c, err := Load([]string{"-addr", "127.0.0.1:9000"}, env(map[string]string{"PORTAL_ADDR": "127.0.0.1:7000", "PORTAL_BASE_URL": "https://portal.example.com/"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.BaseURL != "https://portal.example.com" || !c.SecureCookies() {
		t.Fatalf("got %+v", c)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[0].String() != "10.0.0.0/8" || c.TrustedProxies[1].String() != "192.168.1.7/32" {
		t.Fatalf("got %v", c.TrustedProxies)
	}
}

func TestMetricsSettings(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "" || len(c.MetricsAllow) != 0 {
		t.Fatalf("defaults: metrics addr %q, allow %v", c.MetricsAddr, c.MetricsAllow)
	}
	c, err = Load(nil, env(map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:9090", "PORTAL_METRICS_ALLOW": " 10.1.0.0/16, 192.168.1.7,2001:db8::/32 ,"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "127.0.0.1:9090" || len(c.MetricsAllow) != 3 || c.MetricsAllow[0].String() != "10.1.0.0/16" ||
		c.MetricsAllow[1].String() != "192.168.1.7/32" || c.MetricsAllow[2].String() != "2001:db8::/32" {
		t.Fatalf("got addr %q, allow %v", c.MetricsAddr, c.MetricsAllow)
	}
	// Flags win, as for every setting.
	c, err = Load([]string{"-metrics-addr", "0.0.0.0:9100", "-metrics-allow", "10.9.9.9"}, env(map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:9090", "PORTAL_METRICS_ALLOW": "10.0.0.0/8"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "0.0.0.0:9100" || len(c.MetricsAllow) != 1 || c.MetricsAllow[0].String() != "10.9.9.9/32" {
		t.Fatalf("flags: addr %q, allow %v", c.MetricsAddr, c.MetricsAllow)
	}
}

func TestOperators(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil || len(c.Operators) != 0 {
		t.Fatalf("default operators: %v, %v", c.Operators, err)
	}
	c, err = Load(nil, env(map[string]string{"PORTAL_OPERATORS": " ann@example.com,, Bob@Example.com ,"}), io.Discard)
	if err != nil || len(c.Operators) != 2 || c.Operators[0] != "ann@example.com" || c.Operators[1] != "Bob@Example.com" {
		t.Fatalf("operators: %q, %v", c.Operators, err)
	}
	c, err = Load([]string{"-operators", "cat@example.com"}, env(map[string]string{"PORTAL_OPERATORS": "ann@example.com"}), io.Discard)
	if err != nil || len(c.Operators) != 1 || c.Operators[0] != "cat@example.com" {
		t.Fatalf("the flag: %q, %v", c.Operators, err)
	}
}

func TestInvalid(t *testing.T) {
	for name, e := range map[string]map[string]string{
		"PORTAL_ADDR":            {"PORTAL_ADDR": "nonsense"},
		"PORTAL_BASE_URL":        {"PORTAL_BASE_URL": "ftp://x"},
		"PORTAL_SECRET_KEY":      {"PORTAL_DATABASE_URL": "postgres://db/portal"},
		"PORTAL_TRUSTED_PROXIES": {"PORTAL_TRUSTED_PROXIES": "not-an-ip"},
		"PORTAL_GOOGLE_CLIENT":   {"PORTAL_GOOGLE_CLIENT_ID": "id"},
		"PORTAL_METRICS_ALLOW":   {"PORTAL_METRICS_ALLOW": "10.0.0.0/8, everyone"},
		"PORTAL_METRICS_ADDR":    {"PORTAL_METRICS_ADDR": "9090"},
		"PORTAL_DEVICE_TIMEOUT":  {"PORTAL_DEVICE_TIMEOUT": "10"},
		"PORTAL_NOTIFY_WINDOW":   {"PORTAL_NOTIFY_WINDOW": "0s"},
		"PORTAL_OPERATORS":       {"PORTAL_OPERATORS": "ann@example.com, Bob <bob@example.com>"},
	} {
		_, err := Load(nil, env(e), io.Discard)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got error %v, want one naming %s", name, err, name)
		}
	}
	for _, bad := range []string{"postgress://u@h/db", "mysql://u@h/db", "file:///tmp/x.db", "://x"} {
		_, err := Load(nil, env(map[string]string{"PORTAL_DATABASE_URL": bad, "PORTAL_SECRET_KEY": "k"}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "PORTAL_DATABASE_URL") {
			t.Errorf("PORTAL_DATABASE_URL %q: got error %v, want one naming PORTAL_DATABASE_URL", bad, err)
		}
	}
	// The metrics listener cannot be the main one.
	if _, err := Load(nil, env(map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:8080"}), io.Discard); err == nil || !strings.Contains(err.Error(), "must differ from PORTAL_ADDR") {
		t.Errorf("PORTAL_METRICS_ADDR equal to PORTAL_ADDR: got error %v", err)
	}
	if _, err := Load([]string{"extra"}, env(nil), io.Discard); err == nil {
		t.Error("a stray argument was accepted")
	}
}

func TestDatabaseURL(t *testing.T) {
	for in, want := range map[string]struct {
		postgres bool
		path     string
	}{
		"postgres://u@h/db":   {postgres: true},
		"postgresql://u@h/db": {postgres: true},
		"/var/lib/portal.db":  {path: "/var/lib/portal.db"},
		"portal.db":           {path: "portal.db"},
		"sqlite:///tmp/p.db":  {path: "/tmp/p.db"},
	} {
		c, err := Load(nil, env(map[string]string{"PORTAL_DATABASE_URL": in, "PORTAL_SECRET_KEY": "k"}), io.Discard)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if c.Postgres() != want.postgres || (!want.postgres && c.SQLitePath() != want.path) {
			t.Errorf("%q: postgres %v, path %q", in, c.Postgres(), c.SQLitePath())
		}
	}
}

func TestShutdownDrain(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ShutdownDrain != 5*time.Second {
		t.Fatalf("default drain %v, want 5s", c.ShutdownDrain)
	}
	for in, want := range map[string]time.Duration{"0": 0, "300ms": 300 * time.Millisecond, "1m30s": 90 * time.Second} {
		c, err := Load(nil, env(map[string]string{"PORTAL_SHUTDOWN_DRAIN": in}), io.Discard)
		if err != nil {
			t.Errorf("PORTAL_SHUTDOWN_DRAIN %q: %v", in, err)
		} else if c.ShutdownDrain != want {
			t.Errorf("PORTAL_SHUTDOWN_DRAIN %q: %v, want %v", in, c.ShutdownDrain, want)
		}
	}
	// The flag wins.
	c, err = Load([]string{"-shutdown-drain", "2s"}, env(map[string]string{"PORTAL_SHUTDOWN_DRAIN": "9s"}), io.Discard)
	if err != nil || c.ShutdownDrain != 2*time.Second {
		t.Fatalf("flag: %v, %v; want 2s", c, err)
	}
	for _, bad := range []string{"5", "five seconds", "-1s", "10x"} {
		_, err := Load(nil, env(map[string]string{"PORTAL_SHUTDOWN_DRAIN": bad}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "PORTAL_SHUTDOWN_DRAIN") || !strings.Contains(err.Error(), "duration") {
			t.Errorf("PORTAL_SHUTDOWN_DRAIN %q: got error %v, want one naming the variable and saying it must be a duration", bad, err)
		}
	}
	if _, err := Load([]string{"-shutdown-drain", ""}, env(nil), io.Discard); err == nil {
		t.Error("an empty -shutdown-drain was accepted")
	}
}

// TestInstanceID: PORTAL_INSTANCE_ID wins; by default the host name and
// the absolute database file (SQLite) or data directory (PostgreSQL), the
// same on every start with the same settings.
func TestInstanceID(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"PORTAL_INSTANCE_ID": "portal-1"}), io.Discard)
	if err != nil || c.Instance() != "portal-1" {
		t.Fatalf("Instance() = %q, %v; want portal-1", c.Instance(), err)
	}
	host, _ := os.Hostname()
	dir := t.TempDir()
	c, err = Load([]string{"-data-dir", dir}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := host + ":" + filepath.Join(dir, "portal.db"); c.Instance() != want {
		t.Errorf("SQLite: Instance() = %q, want %q", c.Instance(), want)
	}
	again, _ := Load([]string{"-data-dir", dir}, env(nil), io.Discard)
	if again.Instance() != c.Instance() {
		t.Errorf("not stable: %q then %q", c.Instance(), again.Instance())
	}
	c, err = Load([]string{"-data-dir", dir}, env(map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@db/portal", "PORTAL_SECRET_KEY": "k"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := host + ":" + dir; c.Instance() != want {
		t.Errorf("PostgreSQL: Instance() = %q, want %q", c.Instance(), want)
	}
}

// TestSMTPCAFile: PORTAL_SMTP_CA_FILE (or -smtp-ca-file) is read at start:
// every certificate of the file, which must hold at least one and nothing
// but certificates, and is refused without PORTAL_SMTP_URL.
func TestSMTPCAFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca1, ca2 := smtptest.NewCA(t, "Private CA 1"), smtptest.NewCA(t, "Private CA 2")
	one := write("one.pem", ca1.PEM())
	// A bundle as operators keep them: text around the blocks.
	two := write("two.pem", []byte("# private CAs\n"+string(ca1.PEM())+"\nsecond:\n"+string(ca2.PEM())))
	smtp := "smtps://mail.internal.example"

	c, err := Load(nil, env(nil), io.Discard)
	if err != nil || c.SMTPCAFile != "" || c.SMTPCAs != nil {
		t.Fatalf("default: %q %v, %v", c.SMTPCAFile, c.SMTPCAs, err)
	}
	c, err = Load(nil, env(map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": one}), io.Discard)
	if err != nil || len(c.SMTPCAs) != 1 || !c.SMTPCAs[0].Equal(ca1.Certificate()) {
		t.Fatalf("one CA: %v, %v", c.SMTPCAs, err)
	}
	c, err = Load([]string{"-smtp-ca-file", two}, env(map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": one}), io.Discard)
	if err != nil || c.SMTPCAFile != two || len(c.SMTPCAs) != 2 || !c.SMTPCAs[0].Equal(ca1.Certificate()) || !c.SMTPCAs[1].Equal(ca2.Certificate()) {
		t.Fatalf("the flag, a bundle of two: %v, %v", c.SMTPCAs, err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	text := write("text.pem", []byte("not a certificate\n"))
	empty := write("empty.pem", nil)
	der := write("ca.der", ca1.Certificate().Raw) // DER, not PEM
	withKey := write("with-key.pem", append(ca1.PEM(), keyPEM...))
	broken := write("broken.pem", append(ca1.PEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})...))
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"without an SMTP URL", map[string]string{"PORTAL_SMTP_CA_FILE": one}, "PORTAL_SMTP_CA_FILE is set but PORTAL_SMTP_URL is not"},
		{"missing file", map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": missing}, "PORTAL_SMTP_CA_FILE: open " + missing + ": no such file or directory"},
		{"a directory", map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": dir}, "PORTAL_SMTP_CA_FILE: read " + dir + ": is a directory"},
		{"text", map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": text}, "PORTAL_SMTP_CA_FILE: no PEM certificate in " + text},
		{"empty file", map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": empty}, "PORTAL_SMTP_CA_FILE: no PEM certificate in " + empty},
		{"DER", map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": der}, "PORTAL_SMTP_CA_FILE: no PEM certificate in " + der},
		{"a private key", map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": withKey}, `PORTAL_SMTP_CA_FILE: ` + withKey + ` holds a PEM block of type "EC PRIVATE KEY": give only CA certificates`},
		{"a broken certificate", map[string]string{"PORTAL_SMTP_URL": smtp, "PORTAL_SMTP_CA_FILE": broken}, "PORTAL_SMTP_CA_FILE: certificate 2 in " + broken + ": x509: malformed certificate"},
	} {
		if _, err := Load(nil, env(tc.vars), io.Discard); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one beginning %q", tc.name, err, tc.want)
		}
	}
}

// TestSecretKeyPrevious: PORTAL_SECRET_KEY_PREVIOUS takes comma-separated
// keys in PORTAL_SECRET_KEY's formats; one that is malformed, is the
// current key (in any format) or repeats another is a start-up error that
// names the variable and the key's place, never the key.
func TestSecretKeyPrevious(t *testing.T) {
	hexA, hexB := strings.Repeat("0a", 32), strings.Repeat("0b", 32)
	b64A := "CgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo=" // the bytes of hexA
	c, err := Load(nil, env(map[string]string{"PORTAL_SECRET_KEY": hexB, "PORTAL_SECRET_KEY_PREVIOUS": " " + b64A + " , " + strings.Repeat("0c", 32) + ","}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SecretKeysPrevious) != 2 || c.SecretKeysPrevious[0][0] != 0x0a || c.SecretKeysPrevious[1][0] != 0x0c {
		t.Fatalf("previous keys: %x", c.SecretKeysPrevious)
	}
	if c, err := Load([]string{"-secret-key-previous", hexA}, env(nil), io.Discard); err != nil || len(c.SecretKeysPrevious) != 1 {
		t.Fatalf("flag: %v %v", c, err)
	}
	for name, tc := range map[string]struct{ current, previous, want string }{
		"malformed":          {hexB, "not-a-key", "PORTAL_SECRET_KEY_PREVIOUS: key 1: key (9 characters) is neither valid hex nor base64"},
		"short":              {hexB, hexA + "," + hexA[:40], "PORTAL_SECRET_KEY_PREVIOUS: key 2: key looks like hex but has 40 digits, need 64"},
		"the current key":    {hexA, b64A, "PORTAL_SECRET_KEY_PREVIOUS: key 1 is PORTAL_SECRET_KEY itself"},
		"the current in hex": {b64A, hexB + "," + hexA, "PORTAL_SECRET_KEY_PREVIOUS: key 2 is PORTAL_SECRET_KEY itself"},
		"repeated":           {hexB, hexA + ",," + b64A, "PORTAL_SECRET_KEY_PREVIOUS: key 3 repeats key 1"},
	} {
		_, err := Load(nil, env(map[string]string{"PORTAL_SECRET_KEY": tc.current, "PORTAL_SECRET_KEY_PREVIOUS": tc.previous}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), hexA) || strings.Contains(err.Error(), b64A) || strings.Contains(err.Error(), "not-a-key") {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}
