package authn

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

var errNotObject = errors.New("not a JSON object")

// eachMember calls fn with the key and raw value of every member of the JSON
// object in data, in document order, so a repeated key ends with its last
// value as in JavaScript's JSON.parse. Keys match exactly: unlike
// encoding/json's struct decoding, "SUB" is not "sub", so a custom claim
// spelled with other capitals can never stand in for a registered one.
//
// data is copied into one string and every key and value handed to fn is a
// substring of it, so reading a whole payload costs a single allocation.
func eachMember(data []byte, fn func(key, value string)) error {
	if !json.Valid(data) {
		return errors.New("not valid JSON")
	}
	s := string(data)
	if i := skipSpace(s, 0); s[i] != '{' {
		return errNotObject
	}
	scanMembers(s, fn)
	return nil
}

// scanMembers is eachMember for text already known to be a valid JSON
// object (a value found by eachMember). The skip functions rely on that.
func scanMembers(s string, fn func(key, value string)) {
	i := skipSpace(s, skipSpace(s, 0)+1) // past the opening brace
	for s[i] != '}' {
		keyEnd := skipString(s, i)
		key := s[i:keyEnd]
		i = skipSpace(s, skipSpace(s, keyEnd)+1) // past the colon
		valueEnd := skipValue(s, i)
		fn(unquoteKey(key), s[i:valueEnd])
		i = skipSpace(s, valueEnd)
		if s[i] == ',' {
			i = skipSpace(s, i+1)
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at s[i].
func skipString(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}

// skipValue returns the index just past the value starting at s[i].
func skipValue(s string, i int) int {
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				j = skipString(s, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	default:
		j := i
		for j < len(s) && !endsScalar(s[j]) {
			j++
		}
		return j
	}
}

func endsScalar(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// unquoteKey returns a member key's text. Keys without escapes (all real
// claims) are returned without copying.
func unquoteKey(raw string) string {
	inner := raw[1 : len(raw)-1]
	if strings.IndexByte(inner, '\\') < 0 && utf8.ValidString(inner) {
		return inner
	}
	var key string
	_ = json.Unmarshal([]byte(raw), &key) // raw is a valid JSON string
	return key
}

// rawString returns the value of a JSON string; ok is false for any other
// type or an absent claim.
func rawString(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if strings.IndexByte(inner, '\\') < 0 && utf8.ValidString(inner) {
		return inner, true
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return "", false
	}
	return s, true
}

// rawNumber returns the value of a JSON number; ok is false for any other
// type and for numbers beyond float64 (they are not finite in JavaScript).
func rawNumber(raw string) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(raw, 64)
	return f, err == nil
}

func isObject(raw string) bool { return len(raw) > 0 && raw[0] == '{' }

// jsTrim trims what JavaScript's String.prototype.trim trims (Zs, the
// ASCII spaces, line terminators and the BOM), which differs from
// strings.TrimSpace at U+0085 and U+FEFF.
func jsTrim(s string) string {
	isSpace := func(r rune) bool {
		switch r {
		case '\t', '\n', '\v', '\f', '\r', '\u2028', '\u2029', '\ufeff':
			return true
		}
		return unicode.Is(unicode.Zs, r)
	}
	start, end := 0, len(s)
	for start < end {
		r, n := utf8.DecodeRuneInString(s[start:])
		if !isSpace(r) {
			break
		}
		start += n
	}
	for end > start {
		r, n := utf8.DecodeLastRuneInString(s[start:end])
		if !isSpace(r) {
			break
		}
		end -= n
	}
	return s[start:end]
}
