package app

import (
	"strings"

	"portal"
)

// UserAgent is what a User-Agent header says about the client of a
// session, for people to recognise their sessions: the browser (or API
// client) and the operating system. Versions are given only where they
// mean something: browsers freeze or reduce parts of the string (every
// Chrome on a Mac says "Mac OS X 10_15_7", Windows 11 says "Windows NT
// 10.0"), so those parts are left out rather than shown wrong.
type UserAgent struct {
	Browser   string // "Chrome", "Firefox", "curl", "Python Requests"…; "" when unknown
	Version   string // e.g. "126" for a browser, "8.5.0" for curl; may be ""
	OS        string // "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS"; "" when unknown
	OSVersion string // e.g. "17.4" for iOS, "14" for Android, "7" for Windows 7; may be ""
	Client    bool   // an API client or script rather than a web browser
}

// BrowserName is the browser with its version, or "Unknown browser".
func (u UserAgent) BrowserName() string {
	switch {
	case u.Browser == "":
		return "Unknown browser"
	case u.Version == "":
		return u.Browser
	}
	return u.Browser + " " + u.Version
}

// OSName is the operating system with its version, or "" when unknown.
func (u UserAgent) OSName() string {
	if u.OS == "" || u.OSVersion == "" {
		return u.OS
	}
	return u.OS + " " + u.OSVersion
}

// String reads "Firefox 127 on Windows", or just the browser when the
// operating system is unknown.
func (u UserAgent) String() string {
	if os := u.OSName(); os != "" {
		return u.BrowserName() + " on " + os
	}
	return u.BrowserName()
}

// maxUALen bounds how much of a User-Agent is read.
const maxUALen = 512

// apiClients are the product tokens of common HTTP libraries and tools,
// matched at the start of a User-Agent (case-insensitively), with the
// name to show. withVersion says whether the token's version is the
// client's own (Go-http-client/1.1 gives the HTTP version instead).
var apiClients = []struct {
	prefix, name string
	withVersion  bool
}{
	{"mistapi-python/", "mistapi", true}, // the official Mist Python SDK
	{"mistapi/", "mistapi", true},
	{"mistapi-go/", "mistapi-go", true},
	{"curl/", "curl", true},
	{"wget/", "Wget", true},
	{"python-requests/", "Python Requests", true},
	{"python-httpx/", "Python HTTPX", true},
	{"python-urllib/", "Python urllib", true},
	{"go-http-client/", "Go HTTP client", false},
	{"postmanruntime/", "Postman", true},
	{"insomnia/", "Insomnia", true},
	{"httpie/", "HTTPie", true},
	{"axios/", "axios", true},
	{"node-fetch", "node-fetch", false},
	{"undici", "Node.js fetch", false},
	{"node", "Node.js fetch", false}, // Node's fetch sends exactly "node"
	{"okhttp/", "OkHttp", true},
	{"apache-httpclient/", "Apache HttpClient", true},
	{"java/", "Java HTTP client", true},
	{"java-http-client/", "Java HTTP client", true},
	{"ansible-httpget", "Ansible", false},
	{"terraform/", "Terraform", true},
}

// ParseUserAgent reads the browser or API client and the operating system
// from a User-Agent header. It knows the common browsers (Chrome,
// Chromium, Edge, Firefox, Safari, Opera, Samsung Internet, Vivaldi,
// Internet Explorer) and API clients (curl, Python Requests, the Go HTTP
// client, the mistapi SDK, Postman…), and leaves the rest unknown.
func ParseUserAgent(ua string) UserAgent {
	ua = strings.TrimSpace(portal.Truncate(ua, maxUALen))
	var u UserAgent
	u.OS, u.OSVersion = parseOS(ua)
	lower := strings.ToLower(ua)

	// PowerShell's Invoke-WebRequest starts with Mozilla/5.0 but is a script.
	for _, tok := range []string{"PowerShell/", "WindowsPowerShell/"} {
		if v, ok := tokenVersion(ua, tok); ok {
			u.Browser, u.Version, u.Client = "PowerShell", majorMinor(v), true
			return u
		}
	}
	for _, c := range apiClients {
		if !strings.HasPrefix(lower, c.prefix) {
			continue
		}
		if !strings.HasSuffix(c.prefix, "/") && len(lower) > len(c.prefix) && isWordByte(lower[len(c.prefix)]) {
			continue // "nodejs-thing" is not "node"
		}
		u.Browser, u.Client = c.name, true
		if c.withVersion {
			u.Version = cleanVersion(ua[len(c.prefix):], 3)
		}
		return u
	}
	// aiohttp puts the Python version first: "Python/3.11 aiohttp/3.9.1".
	if v, ok := tokenVersion(ua, "aiohttp/"); ok {
		u.Browser, u.Version, u.Client = "Python aiohttp", cleanVersion(v, 3), true
		return u
	}

	// Browsers, most specific first: Edge, Opera and the others also say
	// Chrome and Safari; Chrome also says Safari.
	browsers := []struct {
		token, name string
		version     func(string) string
	}{
		{"EdgA/", "Edge", major}, // Android
		{"EdgiOS/", "Edge", major},
		{"Edg/", "Edge", major},
		{"Edge/", "Edge", major}, // EdgeHTML, before Chromium
		{"OPR/", "Opera", major},
		{"OPT/", "Opera Touch", major},
		{"OPiOS/", "Opera", major},
		{"SamsungBrowser/", "Samsung Internet", major},
		{"Vivaldi/", "Vivaldi", major},
		{"YaBrowser/", "Yandex Browser", major},
		{"FxiOS/", "Firefox", major},
		{"Firefox/", "Firefox", major},
		{"CriOS/", "Chrome", major},
		{"HeadlessChrome/", "Chrome (headless)", major},
		{"Chromium/", "Chromium", major},
		{"Chrome/", "Chrome", major},
	}
	for _, b := range browsers {
		if v, ok := tokenVersion(ua, b.token); ok {
			u.Browser, u.Version = b.name, b.version(v)
			return u
		}
	}
	switch {
	case strings.HasPrefix(ua, "Opera/"):
		// Presto Opera: "Opera/9.80 (…) Presto/2.12.388 Version/12.16".
		u.Browser = "Opera"
		if v, ok := tokenVersion(ua, "Version/"); ok {
			u.Version = major(v)
		}
		return u
	case strings.Contains(ua, "Trident/") || strings.Contains(ua, "MSIE "):
		u.Browser = "Internet Explorer"
		if v, ok := tokenVersion(ua, "MSIE "); ok {
			u.Version = major(v)
		} else if v, ok := tokenVersion(ua, "rv:"); ok {
			u.Version = major(v)
		}
		return u
	case strings.Contains(ua, "Safari/") || (u.OS == "iOS" || u.OS == "macOS") && strings.Contains(ua, "AppleWebKit/"):
		// Safari, or a web view in an iOS app (no Safari token).
		if v, ok := tokenVersion(ua, "Version/"); ok {
			u.Browser, u.Version = "Safari", majorMinor(v)
		} else if u.OS == "iOS" || u.OS == "macOS" {
			u.Browser = "Safari"
		}
		return u
	}
	return u
}

// parseOS reads the operating system and, where reliable, its version.
func parseOS(ua string) (string, string) {
	switch {
	case strings.Contains(ua, "Windows Phone"):
		return "Windows Phone", ""
	case strings.Contains(ua, "Windows"):
		if v, ok := tokenVersion(ua, "Windows NT "); ok {
			return "Windows", map[string]string{"6.3": "8.1", "6.2": "8", "6.1": "7", "6.0": "Vista", "5.2": "XP", "5.1": "XP"}[majorMinor(v)]
		}
		return "Windows", ""
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		// "CPU iPhone OS 17_4 like Mac OS X", "CPU OS 16_6 like Mac OS X".
		for _, tok := range []string{"iPhone OS ", "CPU OS "} {
			if v, ok := tokenVersion(strings.ReplaceAll(ua, "_", "."), tok); ok {
				return "iOS", majorMinor(v)
			}
		}
		return "iOS", ""
	case strings.Contains(ua, "CrOS"):
		return "ChromeOS", ""
	case strings.Contains(ua, "Android"):
		// Chrome's reduced User-Agent says "Android 10; K" on every version.
		if v, ok := tokenVersion(ua, "Android "); ok && !strings.Contains(ua, "Android 10; K)") {
			return "Android", majorMinor(v)
		}
		return "Android", ""
	case strings.Contains(ua, "Macintosh") || strings.Contains(ua, "Mac OS X"):
		return "macOS", ""
	case strings.Contains(ua, "Linux") || strings.Contains(ua, "X11") || strings.Contains(ua, "Ubuntu") || strings.Contains(ua, "Fedora"):
		return "Linux", ""
	case strings.Contains(ua, "FreeBSD"):
		return "FreeBSD", ""
	case strings.Contains(ua, "OpenBSD"):
		return "OpenBSD", ""
	}
	return "", ""
}

// tokenVersion returns what follows the first token in ua, up to the end
// of the version, and whether the token was found at a word start.
func tokenVersion(ua, token string) (string, bool) {
	from := 0
	for {
		i := strings.Index(ua[from:], token)
		if i < 0 {
			return "", false
		}
		i += from
		if i == 0 || !isWordByte(ua[i-1]) {
			return ua[i+len(token):], true
		}
		from = i + len(token)
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// cleanVersion keeps the leading digits-and-dots of s, at most parts
// numbers and 24 characters; anything else in a header is not shown.
func cleanVersion(s string, parts int) string {
	end, dots := 0, 0
	for end < len(s) && end < 24 {
		c := s[end]
		if c == '.' {
			if dots+1 == parts || end == 0 || s[end-1] == '.' {
				break
			}
			dots++
		} else if c < '0' || c > '9' {
			break
		}
		end++
	}
	return strings.TrimSuffix(s[:end], ".")
}

func major(s string) string      { return cleanVersion(s, 1) }
func majorMinor(s string) string { return cleanVersion(s, 2) }
