package mistspec

// This file turns the OpenAPI document's schemas into JSON Schema draft
// 2020-12 that santhosh-tekuri/jsonschema/v6 compiles and evaluates as the
// OpenAPI 3.0 semantics the Mist document was written with.
//
// The conversion walks the document structurally: it only rewrites objects
// in schema positions (never property names, example values or defaults),
// so a property that happens to be called "example" or "nullable" survives.

import "slices"

// annotationOnly are OpenAPI keywords that carry no validation meaning. The
// validator ignores unknown keywords, but they are removed anyway so that
// nothing in them (example values in particular) is ever taken for a schema.
var annotationOnly = []string{"example", "discriminator", "xml", "externalDocs"}

// schemaMapKeywords hold a map of name → schema.
var schemaMapKeywords = []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}

// schemaKeywords hold a single schema.
var schemaKeywords = []string{
	"additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
	"unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema",
}

// schemaListKeywords hold an array of schemas.
var schemaListKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}

// convertDocument rewrites, in place, every schema found in an OpenAPI
// document: components.schemas and every "schema" member of parameters,
// headers and media types (in paths and in components).
func convertDocument(doc map[string]any) {
	for k, v := range doc {
		switch k {
		case "components":
			comps, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for ck, cv := range comps {
				if ck == "schemas" {
					if schemas, ok := cv.(map[string]any); ok {
						for name, s := range schemas {
							schemas[name] = convertSchema(s)
						}
					}
					continue
				}
				if ck == "examples" {
					continue
				}
				walkOpenAPI(cv)
			}
		case "paths", "webhooks":
			walkOpenAPI(v)
		}
	}
}

// walkOpenAPI descends through non-schema OpenAPI objects (path items,
// operations, responses, media types, parameters, headers) and converts the
// value of every "schema" member it meets. Example payloads are skipped.
func walkOpenAPI(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			switch k {
			case "schema":
				v[k] = convertSchema(child)
			case "example", "examples":
				// arbitrary instance data, not OpenAPI structure
			default:
				walkOpenAPI(child)
			}
		}
	case []any:
		for _, child := range v {
			walkOpenAPI(child)
		}
	}
}

// convertSchema converts one schema (and its subschemas) and returns the
// replacement, which is a new wrapper object when nullable has to be
// expressed with anyOf.
func convertSchema(v any) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return v // boolean schema or something malformed: leave to the compiler
	}

	// Subschemas first.
	for _, k := range schemaMapKeywords {
		if m, ok := obj[k].(map[string]any); ok {
			for name, s := range m {
				m[name] = convertSchema(s)
			}
		}
	}
	for _, k := range schemaKeywords {
		if s, ok := obj[k]; ok {
			obj[k] = convertSchema(s)
		}
	}
	for _, k := range schemaListKeywords {
		if list, ok := obj[k].([]any); ok {
			for i, s := range list {
				list[i] = convertSchema(s)
			}
		}
	}
	switch items := obj["items"].(type) {
	case []any: // draft-4 tuple form; not OpenAPI, but harmless to convert
		for i, s := range items {
			items[i] = convertSchema(s)
		}
	case nil:
	default:
		obj["items"] = convertSchema(items)
	}

	for _, k := range annotationOnly {
		delete(obj, k)
	}
	convertExclusiveBound(obj, "exclusiveMinimum", "minimum")
	convertExclusiveBound(obj, "exclusiveMaximum", "maximum")

	nullable, _ := obj["nullable"].(bool)
	delete(obj, "nullable")
	if !nullable {
		return obj
	}
	return makeNullable(obj)
}

// makeNullable expresses OpenAPI 3.0 "nullable: true" in JSON Schema.
func makeNullable(obj map[string]any) any {
	_, hasRef := obj["$ref"]
	_, hasDynRef := obj["$dynamicRef"]
	_, hasAllOf := obj["allOf"]
	_, hasAnyOf := obj["anyOf"]
	_, hasOneOf := obj["oneOf"]
	typ, hasType := obj["type"]

	// Keywords that constrain the instance independently of "type" could
	// reject null; wrapping keeps null valid whatever they say.
	if hasRef || hasDynRef || hasAllOf || hasAnyOf || hasOneOf || hasAssertion(obj) {
		return map[string]any{"anyOf": []any{obj, map[string]any{"type": "null"}}}
	}
	if !hasType {
		return obj // no constraint at all: null is already valid
	}

	switch t := typ.(type) {
	case string:
		if t != "null" {
			obj["type"] = []any{t, "null"}
		}
	case []any:
		if !slices.Contains(t, any("null")) {
			obj["type"] = append(t, "null")
		}
	}
	if enum, ok := obj["enum"].([]any); ok && !slices.Contains(enum, nil) {
		obj["enum"] = append(enum, nil)
	}
	return obj
}

// hasAssertion reports whether a schema has keywords, other than "type" and
// "enum" (which makeNullable extends with null), that may reject null.
func hasAssertion(obj map[string]any) bool {
	_, hasConst := obj["const"]
	_, hasNot := obj["not"]
	_, hasEnum := obj["enum"]
	_, hasType := obj["type"]
	return hasConst || hasNot || (hasEnum && !hasType)
}

// convertExclusiveBound turns the OpenAPI 3.0 / draft-4 boolean form
// ("exclusiveMinimum": true beside "minimum") into the numeric 2020-12 form,
// which the draft 2020-12 meta-schema requires.
func convertExclusiveBound(obj map[string]any, exclusive, bound string) {
	b, ok := obj[exclusive].(bool)
	if !ok {
		return
	}
	delete(obj, exclusive)
	if !b {
		return
	}
	if limit, ok := obj[bound]; ok {
		obj[exclusive] = limit
		delete(obj, bound)
	}
}
