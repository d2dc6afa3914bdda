package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// checkExact checks a body the strict decoder accepted into dst against a
// case-sensitive reference: the same body read free-form by encoding/json,
// where keys stay as sent. Every key must name a field exactly, every field
// must hold what its exact key holds, and no object may repeat a key.
func checkExact(t *testing.T, body []byte, dst any) {
	t.Helper()
	if key, ok := duplicateKey(body); ok {
		t.Fatalf("accepted %q, which repeats the key %q", body, key)
	}
	var ref any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ref); err != nil {
		t.Fatalf("accepted %q, which the reference refuses: %v", body, err)
	}
	if err := sameExact(reflect.ValueOf(dst).Elem(), ref, ""); err != nil {
		t.Fatalf("accepted %q: %v", body, err)
	}
	// What the decoder accepts, the policy engine can hold: it refuses
	// numbers whose exponent is out of its range.
	if _, err := ast.InterfaceToValue(ref); err != nil {
		t.Fatalf("accepted %q, which policy input cannot hold: %v", body, err)
	}
}

// sameExact reports how v, decoded by the strict decoder, differs from ref,
// the reference's free-form value. It knows the kinds the request types use.
func sameExact(v reflect.Value, ref any, path string) error {
	if ref == nil && v.IsZero() {
		return nil // null or absent leaves a fresh value zero
	}
	switch v.Kind() {
	case reflect.Pointer:
		if ref == nil || v.IsNil() {
			return fmt.Errorf("%s: decoded %v, reference %v", path, v, ref)
		}
		return sameExact(v.Elem(), ref, path)
	case reflect.Struct:
		obj, ok := ref.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: decoded an object, reference %T", path, ref)
		}
		names := map[string]bool{}
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			names[name] = true
			if err := sameExact(v.Field(i), obj[name], path+"."+name); err != nil {
				return err
			}
		}
		for key := range obj {
			if !names[key] {
				return fmt.Errorf("%s: key %q is no field's exact name", path, key)
			}
		}
		return nil
	case reflect.Slice:
		arr, ok := ref.([]any)
		if !ok || len(arr) != v.Len() {
			return fmt.Errorf("%s: decoded %d elements, reference %v", path, v.Len(), ref)
		}
		for i := range arr {
			if err := sameExact(v.Index(i), arr[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map, reflect.String, reflect.Bool:
		if !reflect.DeepEqual(v.Interface(), ref) {
			return fmt.Errorf("%s: decoded %v, reference %v", path, v, ref)
		}
		return nil
	}
	return fmt.Errorf("%s: kind %s not compared", path, v.Kind())
}

// duplicateKey finds a key repeated in one object of body, recursively and
// independently of the decoder. Malformed bodies have none.
func duplicateKey(body []byte) (string, bool) {
	var dup string
	found := eachKey(body, func(seen map[string]bool, key string) bool {
		dup = key
		return seen[key]
	})
	return dup, found
}

// hasKey reports whether an object of body has key among its keys.
func hasKey(body []byte, key string) bool {
	return eachKey(body, func(_ map[string]bool, k string) bool { return k == key })
}

// eachKey calls stop with each key of each object in body, in document
// order and as far as body is well formed, with the keys of the object
// before it, until stop returns true; it reports whether one did.
func eachKey(body []byte, stop func(seen map[string]bool, key string) bool) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func() (bool, error)
	walk = func() (bool, error) {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false, err
				}
				key, _ := k.(string)
				if stop(seen, key) {
					return true, nil
				}
				seen[key] = true
				if stopped, err := walk(); stopped || err != nil {
					return stopped, err
				}
			}
		case json.Delim('['):
			for dec.More() {
				if stopped, err := walk(); stopped || err != nil {
					return stopped, err
				}
			}
		default:
			return false, nil
		}
		_, err = dec.Token()
		return false, err
	}
	stopped, _ := walk()
	return stopped
}

// manyKeys is n distinct members "k0":0, … of an object.
func manyKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf(`"k%d":0`, i)
	}
	return strings.Join(keys, ",")
}

// TestStructFields checks the names the decoder takes for a struct against
// encoding/json's own rules for embedded structs: a shallower field wins,
// a tagged one wins at its depth, and names shared otherwise are dropped.
func TestStructFields(t *testing.T) {
	t.Parallel()
	type Deep struct {
		Shadowed string `json:"top"`
		Deeper   string `json:"deeper"`
	}
	type A struct {
		Deep
		Shared string `json:"shared"`
		Tagged string `json:"tagged"`
		Plain  string
	}
	type B struct {
		Shared string `json:"shared"`
		Tagged string
		Plain  string
	}
	type inner struct {
		Hidden string `json:"hidden"`
	}
	type doc struct {
		A
		*B
		inner
		Top    string `json:"top"`
		Named  A      `json:"named"`
		Skip   string `json:"-"`
		Dash   string `json:"-,"`
		Bad    string `json:"a\\b"`
		hidden string
	}
	fields := structFields(reflect.TypeFor[doc]())
	for _, key := range []string{"top", "deeper", "shared", "tagged", "Tagged", "Plain", "hidden", "named", "Skip", "-", "Dash", "Bad", "a\\b", "A", "B", "inner"} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			_, walk := fields[key]
			body := fmt.Sprintf(`{%q:null}`, key)
			dec := json.NewDecoder(strings.NewReader(body))
			dec.DisallowUnknownFields()
			err := dec.Decode(&doc{})
			if std := err == nil; walk != std {
				t.Errorf("walk takes %s: %v; encoding/json takes it: %v (%v)", body, walk, std, err)
			}
		})
	}
	var e *Error
	if err := unmarshalStrict([]byte(`{"top":"x","DEEPER":"y"}`), &doc{}); !errors.As(err, &e) || e.Message != `unknown field "DEEPER"` {
		t.Errorf(`unmarshalStrict({"top":…,"DEEPER":…}) = %v, want unknown field "DEEPER"`, err)
	}
}
