package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode"
	"unicode/utf8"

	"portal"
)

// checkDuplicateKeys refuses a JSON document (raw, already known to be
// valid) in which an object, at any depth, has the same key twice: without
// this the last one wins, and a filter or log in front of Portal that read
// the first would see another request than Portal does. Keys count as the
// same when encoding/json would match both to one struct field, that is
// regardless of case ("email", "Email", "EMAIL").
func checkDuplicateKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers are not parsed: 1e400 is no error here
	type level struct {
		keys    map[string]string // folded key → key as first written; nil in an array
		wantKey bool              // in an object, the next string is a key
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return jsonError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, level{keys: map[string]string{}, wantKey: true})
			case '[':
				stack = append(stack, level{})
			default: // '}' or ']': the value of the enclosing object ends
				stack = stack[:len(stack)-1]
				if n := len(stack); n > 0 && stack[n-1].keys != nil {
					stack[n-1].wantKey = true
				}
			}
			continue
		}
		n := len(stack)
		if n == 0 || stack[n-1].keys == nil {
			continue
		}
		top := &stack[n-1]
		if !top.wantKey { // a scalar value
			top.wantKey = true
			continue
		}
		key, _ := tok.(string)
		top.wantKey = false
		folded := foldKey(key)
		first, seen := top.keys[folded]
		switch {
		case !seen:
			top.keys[folded] = key
		case first == key:
			return portal.Errorf(portal.EINVALID, "duplicate key %q in the JSON body", shortKey(key))
		default:
			return portal.Errorf(portal.EINVALID, "duplicate key %q in the JSON body: keys are matched regardless of case, so it repeats %q", shortKey(key), shortKey(first))
		}
	}
}

// foldKey maps keys that encoding/json matches to the same struct field to
// the same string: it folds each character both as encoding/json does
// (upper case of the lower case) and as strings.EqualFold does (the
// smallest character of its case-folding orbit).
func foldKey(k string) string {
	var b []byte
	for _, r := range k {
		r = unicode.ToUpper(unicode.ToLower(r))
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b = utf8.AppendRune(b, least)
	}
	return string(b)
}

// shortKey cuts a long key for an error message.
func shortKey(k string) string {
	const max = 64
	if len(k) <= max {
		return k
	}
	n := max
	for n > 0 && !utf8.RuneStart(k[n]) {
		n--
	}
	return k[:n] + "…"
}
