package app

import (
	"strings"
	"testing"
)

func TestParseUserAgent(t *testing.T) {
	tests := []struct {
		name, ua string
		want     string // UserAgent.String()
		client   bool
	}{
		// Desktop browsers.
		{"Chrome on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome 126 on Windows", false},
		{"Chrome on macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36", "Chrome 125 on macOS", false},
		{"Chrome on Linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome 124 on Linux", false},
		{"Chrome on ChromeOS", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome 126 on ChromeOS", false},
		{"headless Chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.85 Safari/537.36", "Chrome (headless) 131 on Linux", false},
		{"Chromium on Ubuntu", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/79.0.3945.79 Chrome/79.0.3945.79 Safari/537.36", "Chromium 79 on Linux", false},
		{"Edge on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", "Edge 126 on Windows", false},
		{"legacy Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041", "Edge 18 on Windows", false},
		{"Firefox on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox 127 on Windows", false},
		{"Firefox on macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox 127 on macOS", false},
		{"Firefox on Linux", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0", "Firefox 126 on Linux", false},
		{"Firefox on Windows 7", "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0", "Firefox 115 on Windows 7", false},
		{"Safari on macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15", "Safari 17.4 on macOS", false},
		{"Opera on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 OPR/111.0.0.0", "Opera 111 on Windows", false},
		{"Presto Opera", "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18", "Opera 12 on Windows 7", false},
		{"Vivaldi on Linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Vivaldi/6.7.3329.41", "Vivaldi 6 on Linux", false},
		{"Internet Explorer 11", "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer 11 on Windows 8.1", false},
		{"Internet Explorer 9", "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)", "Internet Explorer 9 on Windows 7", false},

		// Phones and tablets.
		{"Safari on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "Safari 17.4 on iOS 17.4", false},
		{"Safari on iPad", "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", "Safari 16.6 on iOS 16.6", false},
		{"Chrome on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "Chrome 126 on iOS 17.5", false},
		{"Firefox on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15", "Firefox 127 on iOS 17.5", false},
		{"Edge on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/126.2592.56 Mobile/15E148 Safari/605.1.15", "Edge 126 on iOS 17.5", false},
		{"iOS app web view", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "Safari on iOS 17.5", false},
		{"Chrome on Android (reduced)", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome 126 on Android", false},
		{"Chrome on Android", "Mozilla/5.0 (Linux; Android 9; SM-G960F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.91 Mobile Safari/537.36", "Chrome 90 on Android 9", false},
		{"Firefox on Android", "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", "Firefox 127 on Android 14", false},
		{"Samsung Internet", "Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet 25 on Android 13", false},
		{"Edge on Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 EdgA/126.0.0.0", "Edge 126 on Android", false},
		{"Opera on Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Mobile Safari/537.36 OPR/82.0.0.0", "Opera 82 on Android", false},

		// API clients and scripts.
		{"curl", "curl/8.5.0", "curl 8.5.0", true},
		{"Wget", "Wget/1.21.4", "Wget 1.21.4", true},
		{"python-requests", "python-requests/2.31.0", "Python Requests 2.31.0", true},
		{"httpx", "python-httpx/0.27.0", "Python HTTPX 0.27.0", true},
		{"urllib", "Python-urllib/3.12", "Python urllib 3.12", true},
		{"aiohttp", "Python/3.11 aiohttp/3.9.5", "Python aiohttp 3.9.5", true},
		{"Go", "Go-http-client/1.1", "Go HTTP client", true},
		{"Go HTTP/2", "Go-http-client/2.0", "Go HTTP client", true},
		{"mistapi", "mistapi-python/0.55.8", "mistapi 0.55.8", true},
		{"mistapi, short", "mistapi/0.44.1", "mistapi 0.44.1", true},
		{"Postman", "PostmanRuntime/7.39.0", "Postman 7.39.0", true},
		{"HTTPie", "HTTPie/3.2.2", "HTTPie 3.2.2", true},
		{"axios", "axios/1.7.2", "axios 1.7.2", true},
		{"Node fetch", "node", "Node.js fetch", true},
		{"OkHttp", "okhttp/4.12.0", "OkHttp 4.12.0", true},
		{"PowerShell 7", "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.2", "PowerShell 7.4 on Windows", true},
		{"Windows PowerShell", "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.4522", "PowerShell 5.1 on Windows", true},

		// Nothing to go by.
		{"empty", "", "Unknown browser", false},
		{"garbage", "}{<script>alert(1)</script>", "Unknown browser", false},
		{"unknown product", "MyTool/1.0", "Unknown browser", false},
		{"unknown product on Linux", "Mozilla/5.0 (X11; Linux x86_64) Something/2.0", "Unknown browser on Linux", false},
		{"nodejs is not node", "nodejs-tool/1.0", "Unknown browser", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := ParseUserAgent(tc.ua)
			if got := u.String(); got != tc.want {
				t.Errorf("ParseUserAgent(%q) = %q (%+v), want %q", tc.ua, got, u, tc.want)
			}
			if u.Client != tc.client {
				t.Errorf("ParseUserAgent(%q).Client = %v, want %v", tc.ua, u.Client, tc.client)
			}
		})
	}
}

// TestParseUserAgentHostile: whatever a client sends, what is shown is
// short and made of names and digits only.
func TestParseUserAgentHostile(t *testing.T) {
	for _, ua := range []string{
		"curl/" + strings.Repeat("9", 10000),
		"curl/1.2.3<script>",
		"Mozilla/5.0 (Windows NT 10.0) Chrome/12<b>6",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4\" onload=\"x like Mac OS X) Version/17.4",
		"Firefox/..1..",
		strings.Repeat("Chrome/", 5000),
		"Mozilla/5.0 (Linux; Android \x00\xff) Chrome/1",
	} {
		u := ParseUserAgent(ua)
		for _, s := range []string{u.Version, u.OSVersion} {
			if len(s) > 24 || strings.Trim(s, "0123456789.") != "" {
				t.Errorf("ParseUserAgent(%.40q): version %q", ua, s)
			}
		}
		if len(u.String()) > 80 {
			t.Errorf("ParseUserAgent(%.40q) = %q: too long", ua, u.String())
		}
	}
}

func TestCleanVersion(t *testing.T) {
	for _, tc := range []struct {
		in    string
		parts int
		want  string
	}{
		{"126.0.6478.54 Safari", 1, "126"},
		{"17.4.1 Mobile", 2, "17.4"},
		{"17", 2, "17"},
		{"8.5.0", 3, "8.5.0"},
		{"1.2.3.4", 3, "1.2.3"},
		{".1", 2, ""},
		{"1..2", 3, "1"},
		{"x1", 1, ""},
		{"", 1, ""},
	} {
		if got := cleanVersion(tc.in, tc.parts); got != tc.want {
			t.Errorf("cleanVersion(%q, %d) = %q, want %q", tc.in, tc.parts, got, tc.want)
		}
	}
}
