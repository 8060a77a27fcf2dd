// Package mistspec is test support: it validates Portal's JSON API responses
// against the official Mist OpenAPI subset, the part of the Mist API that
// Portal follows (README, ARCHITECTURE.md: wire compatibility).
//
// The document is not part of this repository. Load reads it at run time from
// $PORTAL_TEST_MIST_SPEC or from ../shared/api/mist-account.openapi.json
// beside the module root, and skips the calling test when it is absent
// (fails instead when CI=true).
//
// The document claims OpenAPI 3.1 but uses the 3.0 keyword "nullable"; its
// schemas are converted to JSON Schema draft 2020-12 before compiling (see
// convert.go). "format" is an annotation only and is not asserted.
package mistspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EnvSpec names the environment variable that points at the spec file.
const EnvSpec = "PORTAL_TEST_MIST_SPEC"

// specRelPath is where the spec lives relative to the module root.
var specRelPath = filepath.Join("..", "shared", "api", "mist-account.openapi.json")

// resourceURL is the URL under which the converted document is loaded into
// the compiler, so that its internal "#/components/..." references resolve.
const resourceURL = "mem://mist.json"

// jsonMediaType is the only media type whose schema is validated.
const jsonMediaType = "application/json"

// Spec is a parsed, converted Mist OpenAPI document. It is safe for
// concurrent use.
type Spec struct {
	file  string
	doc   map[string]any
	paths []pathTemplate

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema // by JSON pointer
}

// pathTemplate is one key of the document's "paths" object, split into
// segments.
type pathTemplate struct {
	template string
	segments []segment
}

// segment is one path-template segment: a literal, or a pattern when it holds
// "{param}" parts.
type segment struct {
	literal string
	param   bool     // the whole segment is one "{param}"
	parts   []string // mixed segment: literal pieces around params, params as ""
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*cacheEntry{}
)

type cacheEntry struct {
	once sync.Once
	spec *Spec
	err  error
}

// Load returns the Mist spec, parsed once per file and cached across calls.
// When no spec file can be found (a fresh clone without ../shared), it
// returns nil: a nil *Spec compares nothing (ValidateResponse and
// ValidateSchema do nothing, MatchPath matches nothing), so the test runs
// and asserts everything else. The test fails instead when the environment
// variable CI is true, or when $PORTAL_TEST_MIST_SPEC names a file that
// cannot be read. Tests of the document itself use Require.
func Load(t testing.TB) *Spec {
	t.Helper()
	file, err := locate(os.Getenv(EnvSpec))
	if err != nil {
		if os.Getenv(EnvSpec) == "" && !isCI() {
			absentOnce.Do(func() {
				t.Logf("mistspec: Mist OpenAPI document not available, responses are not compared with it: %v", err)
			})
			return nil
		}
		t.Fatalf("mistspec: %v", err)
	}
	s, err := loadCached(file)
	if err != nil {
		t.Fatalf("mistspec: %v", err)
	}
	return s
}

var absentOnce sync.Once

// Require is Load for a test that checks the Mist document itself: without
// the document it is skipped (failed when CI is true).
func Require(t testing.TB) *Spec {
	t.Helper()
	s := Load(t)
	if s == nil {
		t.Skip("mistspec: Mist OpenAPI document not available: this test checks the document itself")
	}
	return s
}

func isCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// locate returns the spec file: env if set, else <module root>/../shared/api/…
// for the nearest ancestor of the working directory that holds a go.mod and
// has the file beside it.
func locate(env string) (string, error) {
	if env != "" {
		abs, err := filepath.Abs(env)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvSpec, env, err)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	foundModule := false
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			foundModule = true
			candidate := filepath.Join(dir, specRelPath)
			if _, err := os.Stat(candidate); err == nil {
				return filepath.Clean(candidate), nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if !foundModule {
		return "", fmt.Errorf("no go.mod above %s; set %s", wd, EnvSpec)
	}
	return "", fmt.Errorf("no %s beside any module root above %s; set %s", specRelPath, wd, EnvSpec)
}

func loadCached(file string) (*Spec, error) {
	cacheMu.Lock()
	e, ok := cache[file]
	if !ok {
		e = &cacheEntry{}
		cache[file] = e
	}
	cacheMu.Unlock()
	e.once.Do(func() {
		data, err := os.ReadFile(file)
		if err != nil {
			e.err = err
			return
		}
		e.spec, e.err = parse(file, data)
	})
	return e.spec, e.err
}

// parse builds a Spec from the bytes of an OpenAPI document.
func parse(file string, data []byte) (*Spec, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a JSON object", file)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: no paths object", file)
	}
	convertDocument(doc)

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(resourceURL, doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}

	s := &Spec{file: file, doc: doc, compiler: c, schemas: map[string]*jsonschema.Schema{}}
	for tmpl := range paths {
		s.paths = append(s.paths, parseTemplate(tmpl))
	}
	sort.Slice(s.paths, func(i, j int) bool { return s.paths[i].template < s.paths[j].template })
	return s, nil
}

func parseTemplate(tmpl string) pathTemplate {
	pt := pathTemplate{template: tmpl}
	for _, raw := range strings.Split(tmpl, "/") {
		var seg segment
		switch {
		case !strings.Contains(raw, "{"):
			seg.literal = raw
		case strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") && strings.Count(raw, "{") == 1:
			seg.param = true
		default:
			rest := raw
			for rest != "" {
				open := strings.IndexByte(rest, '{')
				if open < 0 {
					seg.parts = append(seg.parts, rest)
					break
				}
				if open > 0 {
					seg.parts = append(seg.parts, rest[:open])
				}
				closing := strings.IndexByte(rest[open:], '}')
				if closing < 0 { // malformed: treat the rest literally
					seg.parts = append(seg.parts, rest[open:])
					break
				}
				seg.parts = append(seg.parts, "")
				rest = rest[open+closing+1:]
			}
		}
		pt.segments = append(pt.segments, seg)
	}
	return pt
}

// matchRank reports whether the concrete segment matches: 2 for a literal
// match, 1 for a template match, 0 for no match.
func (seg segment) matchRank(s string) int {
	switch {
	case seg.param:
		if s == "" {
			return 0
		}
		return 1
	case seg.parts != nil:
		if matchParts(seg.parts, s) {
			return 1
		}
		return 0
	case seg.literal == s:
		return 2
	}
	return 0
}

// matchParts matches s against literal pieces and non-empty params ("").
func matchParts(parts []string, s string) bool {
	if len(parts) == 0 {
		return s == ""
	}
	if p := parts[0]; p != "" {
		if !strings.HasPrefix(s, p) {
			return false
		}
		return matchParts(parts[1:], s[len(p):])
	}
	// A parameter: try every non-empty length.
	for n := 1; n <= len(s); n++ {
		if matchParts(parts[1:], s[n:]) {
			return true
		}
	}
	return false
}

// MatchPath returns the path template of the spec that documents the concrete
// request path (a query string is ignored). Literal segments are preferred
// over template segments, left to right: /api/v1/self/logs wins over
// /api/v1/self/{x}.
func (s *Spec) MatchPath(path string) (string, error) {
	if s == nil {
		return "", errors.New("no Mist document loaded")
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	got := strings.Split(path, "/")
	var best *pathTemplate
	var bestRanks []int
	for i := range s.paths {
		pt := &s.paths[i]
		if len(pt.segments) != len(got) {
			continue
		}
		ranks := make([]int, len(got))
		ok := true
		for j, seg := range pt.segments {
			ranks[j] = seg.matchRank(got[j])
			if ranks[j] == 0 {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if best == nil || better(ranks, bestRanks) {
			best, bestRanks = pt, ranks
		}
	}
	if best == nil {
		return "", fmt.Errorf("path %s is not documented in the Mist spec", path)
	}
	return best.template, nil
}

func better(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// ValidateResponse fails the test unless the response (method, concrete
// request path, status, body) is documented in the spec and the body matches
// the documented application/json schema. A response without a JSON schema
// only requires an empty or well-formed JSON body.
func (s *Spec) ValidateResponse(t testing.TB, method, path string, status int, body []byte) {
	t.Helper()
	if s == nil {
		return // no document: nothing to compare with (Load)
	}
	if err := s.validateResponse(method, path, status, body); err != nil {
		t.Errorf("mistspec: %s %s → %d: %v\nbody: %s", strings.ToUpper(method), path, status, err, body)
	}
}

// ValidateSchema fails the test unless body is valid against
// #/components/schemas/<schemaName>.
func (s *Spec) ValidateSchema(t testing.TB, schemaName string, body []byte) {
	t.Helper()
	if s == nil {
		return // no document: nothing to compare with (Load)
	}
	if err := s.validateSchema(schemaName, body); err != nil {
		t.Errorf("mistspec: schema %q: %v\nbody: %s", schemaName, err, body)
	}
}

func (s *Spec) validateSchema(schemaName string, body []byte) error {
	schemas, _ := s.component("schemas")
	if _, ok := schemas[schemaName]; !ok {
		return fmt.Errorf("no schema %q in components/schemas", schemaName)
	}
	return s.validateAt(pointer("components", "schemas", schemaName), body)
}

func (s *Spec) validateResponse(method, path string, status int, body []byte) error {
	ptr, err := s.responseSchemaPointer(method, path, status)
	if err != nil {
		return err
	}
	if ptr == "" {
		return checkJSONOrEmpty(body)
	}
	return s.validateAt(ptr, body)
}

// responseSchemaPointer returns the JSON pointer of the application/json
// schema documented for the response, or "" when the response is documented
// without one.
func (s *Spec) responseSchemaPointer(method, path string, status int) (string, error) {
	tmpl, err := s.MatchPath(path)
	if err != nil {
		return "", err
	}
	paths, _ := s.doc["paths"].(map[string]any)
	item, _ := paths[tmpl].(map[string]any)
	m := strings.ToLower(method)
	op, ok := item[m].(map[string]any)
	if !ok || m == "parameters" || m == "summary" || m == "description" || m == "servers" {
		return "", fmt.Errorf("method %s is not documented for %s in the Mist spec", strings.ToUpper(method), tmpl)
	}
	responses, _ := op["responses"].(map[string]any)
	code := strconv.Itoa(status)
	key := ""
	candidates := []string{code, "default"}
	if len(code) == 3 {
		candidates = []string{code, code[:1] + "XX", code[:1] + "xx", "default"}
	}
	for _, k := range candidates {
		if _, ok := responses[k]; ok {
			key = k
			break
		}
	}
	if key == "" {
		return "", fmt.Errorf("status %d is not documented for %s %s in the Mist spec", status, strings.ToUpper(method), tmpl)
	}

	// Follow $ref chains to components/responses.
	ptr := []string{"paths", tmpl, m, "responses", key}
	resp, _ := responses[key].(map[string]any)
	for range 16 {
		ref, ok := resp["$ref"].(string)
		if !ok {
			break
		}
		name, ok := strings.CutPrefix(ref, "#/components/responses/")
		if !ok || strings.Contains(name, "/") {
			return "", fmt.Errorf("unsupported response $ref %q", ref)
		}
		name = unescapeToken(name)
		comps, _ := s.component("responses")
		next, ok := comps[name].(map[string]any)
		if !ok {
			return "", fmt.Errorf("response $ref %q does not resolve", ref)
		}
		resp, ptr = next, []string{"components", "responses", name}
	}
	content, _ := resp["content"].(map[string]any)
	media, _ := content[jsonMediaType].(map[string]any)
	if _, ok := media["schema"]; !ok {
		return "", nil
	}
	return pointer(append(ptr, "content", jsonMediaType, "schema")...), nil
}

func (s *Spec) component(kind string) (map[string]any, bool) {
	comps, _ := s.doc["components"].(map[string]any)
	m, ok := comps[kind].(map[string]any)
	return m, ok
}

// validateAt compiles (once) the schema at the JSON pointer and validates body.
func (s *Spec) validateAt(ptr string, body []byte) error {
	sch, err := s.schemaAt(ptr)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not valid JSON: %w", err)
	}
	if err := sch.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("body does not match %s:\n%v", ptr, ve)
		}
		return err
	}
	return nil
}

func (s *Spec) schemaAt(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[ptr]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(resourceURL + "#" + encodeFragment(ptr))
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", ptr, err)
	}
	s.schemas[ptr] = sch
	return sch, nil
}

func checkJSONOrEmpty(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !json.Valid(body) {
		return errors.New("body is neither empty nor valid JSON")
	}
	return nil
}

// pointer builds a JSON pointer from unescaped tokens.
func pointer(tokens ...string) string {
	var sb strings.Builder
	for _, tok := range tokens {
		sb.WriteByte('/')
		tok = strings.ReplaceAll(tok, "~", "~0")
		tok = strings.ReplaceAll(tok, "/", "~1")
		sb.WriteString(tok)
	}
	return sb.String()
}

func unescapeToken(tok string) string {
	tok = strings.ReplaceAll(tok, "~1", "/")
	return strings.ReplaceAll(tok, "~0", "~")
}

// encodeFragment percent-encodes each pointer token for use in a URL
// fragment ("{org_id}" and the like), keeping the separators.
func encodeFragment(ptr string) string {
	toks := strings.Split(ptr, "/")
	for i, tok := range toks {
		toks[i] = url.PathEscape(tok)
	}
	return strings.Join(toks, "/")
}
