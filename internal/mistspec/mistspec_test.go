package mistspec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	adminID = "f0a6c3f4-5bb0-4f2d-9c3a-3a1b7c1f0c11"
	orgID   = "1c9a2f40-4b6e-4d8f-9a51-2f6c0b3d7e22"
)

func validAdmin() map[string]any {
	return map[string]any{
		"admin_id":   adminID,
		"email":      "a@b.c",
		"first_name": "A",
		"last_name":  "B",
		"privileges": []any{map[string]any{
			"scope": "org", "role": "admin", "org_id": orgID, "name": "Org",
		}},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAdminSchema(t *testing.T) {
	s := Require(t)

	body := mustJSON(t, validAdmin())
	s.ValidateSchema(t, "admin", body) // the t-based wrapper must not fail
	if err := s.validateSchema("admin", body); err != nil {
		t.Fatalf("valid admin rejected: %v", err)
	}

	bad := map[string]func(map[string]any){
		"privileges not an array": func(a map[string]any) { a["privileges"] = "x" },
		"unknown role": func(a map[string]any) {
			a["privileges"].([]any)[0].(map[string]any)["role"] = "king"
		},
		"privilege without scope": func(a map[string]any) {
			delete(a["privileges"].([]any)[0].(map[string]any), "scope")
		},
		"email not a string":   func(a map[string]any) { a["email"] = 42 },
		"empty privileges":     func(a map[string]any) { a["privileges"] = []any{} },
		"no_tracking a string": func(a map[string]any) { a["no_tracking"] = "yes" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			a := validAdmin()
			mutate(a)
			err := s.validateSchema("admin", mustJSON(t, a))
			if err == nil {
				t.Fatalf("invalid admin accepted: %s", mustJSON(t, a))
			}
			t.Logf("rejected as expected: %v", err)
		})
	}

	// "format" is an annotation only: a non-UUID id and a non-address e-mail pass.
	a := validAdmin()
	a["admin_id"], a["email"] = "not-a-uuid", "not-an-email"
	if err := s.validateSchema("admin", mustJSON(t, a)); err != nil {
		t.Errorf("format asserted: %v", err)
	}

	if err := s.validateSchema("admin", []byte(`{"admin_id": `)); err == nil {
		t.Error("malformed JSON accepted")
	}
	if err := s.validateSchema("no_such_schema", []byte(`{}`)); err == nil {
		t.Error("unknown schema name accepted")
	}
}

func TestNullable(t *testing.T) {
	s := Require(t)

	a := validAdmin()
	a["no_tracking"] = nil                                        // boolean, nullable
	a["privileges"].([]any)[0].(map[string]any)["msp_name"] = nil // string, nullable, readOnly
	if err := s.validateSchema("admin", mustJSON(t, a)); err != nil {
		t.Errorf("null in nullable fields rejected: %v", err)
	}

	// A field that is not nullable still rejects null.
	a = validAdmin()
	a["first_name"] = nil
	if err := s.validateSchema("admin", mustJSON(t, a)); err == nil {
		t.Error("null accepted in non-nullable first_name")
	}

	// A nullable array type (component schema with "type": "array").
	if err := s.validateSchema("org_setting_auto_site_assignment_rules", []byte(`null`)); err != nil {
		t.Errorf("null rejected by nullable array schema: %v", err)
	}
	if err := s.validateSchema("org_setting_auto_site_assignment_rules", []byte(`[]`)); err != nil {
		t.Errorf("empty array rejected: %v", err)
	}
	if err := s.validateSchema("org_setting_auto_site_assignment_rules", []byte(`"x"`)); err == nil {
		t.Error("string accepted by nullable array schema")
	}
}

func TestMatchPath(t *testing.T) {
	s := Require(t)
	tests := []struct {
		path, want string
	}{
		{"/api/v1/self", "/api/v1/self"},
		{"/api/v1/self/logs", "/api/v1/self/logs"},
		{"/api/v1/self/apitokens", "/api/v1/self/apitokens"},
		{"/api/v1/self/apitokens/" + adminID, "/api/v1/self/apitokens/{apitoken_id}"},
		{"/api/v1/orgs/" + orgID, "/api/v1/orgs/{org_id}"},
		{"/api/v1/orgs/" + orgID + "/admins/" + adminID, "/api/v1/orgs/{org_id}/admins/{admin_id}"},
		{"/api/v1/orgs/" + orgID + "/logs?limit=10&page=2", "/api/v1/orgs/{org_id}/logs"},
		{"/api/v1/login/two_factor", "/api/v1/login/two_factor"},
		{"/api/v1/login/oauth/google", "/api/v1/login/oauth/{provider}"},
	}
	for _, tt := range tests {
		got, err := s.MatchPath(tt.path)
		if err != nil || got != tt.want {
			t.Errorf("MatchPath(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	for _, p := range []string{"/api/v1/nope", "/api/v1/orgs/" + orgID + "/nope", "/api/v1/orgs//admins", "/api/v1/self/"} {
		if got, err := s.MatchPath(p); err == nil {
			t.Errorf("MatchPath(%q) = %q; want an error", p, got)
		}
	}
}

func TestTemplatePreference(t *testing.T) {
	s := &Spec{}
	for _, tmpl := range []string{"/a/{x}/c", "/a/b/{y}", "/a/{x}", "/a/literal", "/f/file-{id}.json"} {
		s.paths = append(s.paths, parseTemplate(tmpl))
	}
	for path, want := range map[string]string{
		"/a/b/c":          "/a/b/{y}", // leftmost literal wins
		"/a/z/c":          "/a/{x}/c",
		"/a/literal":      "/a/literal",
		"/a/other":        "/a/{x}",
		"/f/file-42.json": "/f/file-{id}.json",
	} {
		if got, err := s.MatchPath(path); err != nil || got != want {
			t.Errorf("MatchPath(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := s.MatchPath("/f/file-.json"); err == nil {
		t.Error("empty parameter matched")
	}
}

func TestValidateResponse(t *testing.T) {
	s := Require(t)
	self := mustJSON(t, validAdmin())

	ok := []struct {
		name         string
		method, path string
		status       int
		body         string
	}{
		{"GET self", "GET", "/api/v1/self", 200, string(self)},
		{"lower-case method", "get", "/api/v1/self", 200, string(self)},
		{"login", "POST", "/api/v1/login", 200, `{"email":"a@b.c","two_factor_required":false,"two_factor_passed":false}`},
		{"login 2FA pending", "POST", "/api/v1/login", 200, `{"email":"a@b.c","two_factor_required":true,"two_factor_passed":false}`},
		{"login failure", "POST", "/api/v1/login", 400, `{"detail":"x"}`},
		{"400 via components/responses", "PUT", "/api/v1/self", 400, `{"detail":"x"}`},
		{"400 with extra fields", "GET", "/api/v1/orgs/" + orgID, 400, `{"detail":"x","code":7}`},
		{"401", "GET", "/api/v1/self", 401, `{"detail":"not logged in"}`},
		{"429", "POST", "/api/v1/recover", 429, `{"detail":"slow down"}`},
		{"OK response has no schema, empty body", "POST", "/api/v1/login/two_factor", 200, ``},
		{"OK response has no schema, JSON body", "DELETE", "/api/v1/self", 200, `{}`},
		{"inline response without content", "POST", "/api/v1/login/two_factor", 401, `{"detail":"bad code"}`},
		{"inline response with schema", "PUT", "/api/v1/orgs/" + orgID + "/setting", 200, `{}`},
		{"self with null nullable", "GET", "/api/v1/self", 200, `{"email":"a@b.c","no_tracking":null,"privileges":[{"scope":"org","role":"read","org_id":"` + orgID + `"}]}`},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.validateResponse(tt.method, tt.path, tt.status, []byte(tt.body)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
			s.ValidateResponse(t, tt.method, tt.path, tt.status, []byte(tt.body))
		})
	}

	bad := []struct {
		name         string
		method, path string
		status       int
		body         string
		wantErr      string
	}{
		{"login with string flag", "POST", "/api/v1/login", 200, `{"email":"a@b.c","two_factor_required":"no","two_factor_passed":false}`, "two_factor_required"},
		{"detail not a string", "POST", "/api/v1/login", 400, `{"detail":1}`, "detail"},
		{"self privileges not an array", "GET", "/api/v1/self", 200, `{"privileges":"x"}`, "privileges"},
		{"empty body where schema expected", "GET", "/api/v1/self", 200, ``, "JSON"},
		{"no-schema response with garbage", "POST", "/api/v1/login/two_factor", 200, `<html>`, "JSON"},
		{"unknown path", "GET", "/api/v1/nope", 200, `{}`, "not documented"},
		{"undocumented method", "PATCH", "/api/v1/self", 200, `{}`, "not documented"},
		{"undocumented status", "POST", "/api/v1/login", 401, `{"detail":"x"}`, "not documented"},
		{"undocumented 201", "POST", "/api/v1/orgs", 201, `{}`, "not documented"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := s.validateResponse(tt.method, tt.path, tt.status, []byte(tt.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestAllResponseSchemasCompile compiles every documented JSON response
// schema, so a conversion problem anywhere in the document shows up here.
func TestAllResponseSchemasCompile(t *testing.T) {
	s := Require(t)
	paths := s.doc["paths"].(map[string]any)
	n := 0
	for tmpl, item := range paths {
		for method, op := range item.(map[string]any) {
			op, ok := op.(map[string]any)
			if !ok || method == "parameters" {
				continue
			}
			for code := range op["responses"].(map[string]any) {
				if code == "default" {
					continue
				}
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Fatalf("%s %s: status %q", method, tmpl, code)
				}
				concrete := strings.NewReplacer("{", "x", "}", "x").Replace(tmpl)
				ptr, err := s.responseSchemaPointer(method, concrete, status)
				if err != nil {
					t.Errorf("%s %s %d: %v", method, tmpl, status, err)
					continue
				}
				if ptr == "" {
					continue
				}
				if _, err := s.schemaAt(ptr); err != nil {
					t.Errorf("%s %s %d: %v", method, tmpl, status, err)
				}
				n++
			}
		}
	}
	schemas, _ := s.component("schemas")
	for name := range schemas {
		if _, err := s.schemaAt(pointer("components", "schemas", name)); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	if n == 0 {
		t.Fatal("no response schema found")
	}
}

func TestLoadCaches(t *testing.T) {
	a, b := Require(t), Require(t)
	if a != b {
		t.Error("Load parsed the spec twice")
	}
}

func TestLoadFromEnv(t *testing.T) {
	real := Require(t)
	t.Setenv(EnvSpec, real.file)
	t.Setenv("CI", "")
	if got := Load(t); got != real {
		t.Error("Load via env did not use the cached spec")
	}
}

func TestLocate(t *testing.T) {
	// Module root with the spec beside it, looked up from a subdirectory.
	base := t.TempDir()
	root := filepath.Join(base, "main")
	sub := filepath.Join(root, "internal", "x")
	spec := filepath.Join(base, "shared", "api", "mist-account.openapi.json")
	for _, d := range []string{sub, filepath.Dir(spec)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if _, err := locate(""); err == nil {
		t.Error("found a spec that does not exist yet")
	}
	if err := os.WriteFile(spec, []byte(`{"paths":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := locate("")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(spec); evalOr(got) != want {
		t.Errorf("locate = %q, want %q", got, spec)
	}
	if _, err := locate(filepath.Join(base, "missing.json")); err == nil {
		t.Error("env pointing at a missing file accepted")
	}
}

func evalOr(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func TestConvertSchema(t *testing.T) {
	decode := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct{ in, want string }{
		{`{"type":"string","nullable":true,"example":"x"}`, `{"type":["string","null"]}`},
		{`{"type":"string","enum":["a","b"],"nullable":true}`, `{"type":["string","null"],"enum":["a","b",null]}`},
		{`{"$ref":"#/components/schemas/x","nullable":true}`, `{"anyOf":[{"$ref":"#/components/schemas/x"},{"type":"null"}]}`},
		{`{"allOf":[{"type":"object"}],"nullable":true}`, `{"anyOf":[{"allOf":[{"type":"object"}]},{"type":"null"}]}`},
		{`{"type":"string","nullable":false}`, `{"type":"string"}`},
		{`{"type":"object","properties":{"example":{"type":"integer","nullable":true},"nullable":{"type":"string"}},"discriminator":{"propertyName":"t"}}`,
			`{"type":"object","properties":{"example":{"type":["integer","null"]},"nullable":{"type":"string"}}}`},
		{`{"type":"array","items":{"type":"number","minimum":0,"exclusiveMinimum":true}}`, `{"type":"array","items":{"type":"number","exclusiveMinimum":0}}`},
		{`{"type":"integer","default":null,"example":null}`, `{"type":"integer","default":null}`},
	}
	for _, tt := range tests {
		got := convertSchema(decode(tt.in))
		if want := decode(tt.want); !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			t.Errorf("convertSchema(%s) = %s, want %s", tt.in, g, tt.want)
		}
	}
}

// recordingTB records how Load ends a test without ending the real one.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	msg             string
	spec            *Spec
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runLoad(t *testing.T) *recordingTB {
	t.Helper()
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.spec = Load(r)
	}()
	<-done
	return r
}

func TestLoadAbsent(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(EnvSpec, "")
	if f, err := locate(""); err == nil {
		t.Skipf("a spec is reachable from the temporary directory: %s", f)
	}

	t.Setenv("CI", "")
	if r := runLoad(t); r.skipped || r.failed || r.spec != nil {
		t.Errorf("without CI: skipped=%v failed=%v spec=%v (%s); want nil and the test going on", r.skipped, r.failed, r.spec, r.msg)
	}
	// A nil spec compares nothing and fails nothing.
	var none *Spec
	none.ValidateResponse(t, "GET", "/api/v1/self", 200, []byte(`{"not":"an admin"}`))
	none.ValidateSchema(t, "admin", []byte(`[]`))
	if _, err := none.MatchPath("/api/v1/self"); err == nil {
		t.Error("a nil spec matched a path")
	}

	t.Setenv("CI", "true")
	if r := runLoad(t); !r.failed {
		t.Errorf("with CI=true: skipped=%v failed=%v; want a failure", r.skipped, r.failed)
	}

	t.Setenv("CI", "")
	t.Setenv(EnvSpec, filepath.Join(t.TempDir(), "missing.json"))
	if r := runLoad(t); !r.failed {
		t.Errorf("with %s pointing at a missing file: skipped=%v failed=%v; want a failure", EnvSpec, r.skipped, r.failed)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := Require(t)
	body := mustJSON(t, validAdmin())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s.ValidateResponse(t, "GET", "/api/v1/self", 200, body)
			s.ValidateResponse(t, "GET", "/api/v1/orgs/"+orgID+"/admins", 200, []byte("["+string(body)+"]"))
			s.ValidateSchema(t, "admin", body)
		})
	}
	wg.Wait()
}
