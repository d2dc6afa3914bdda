package httpapi

import (
	"encoding/binary"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// str reads the string at pos and returns it unquoted. Plain text (no
// escape, valid UTF-8) is returned as a slice of data, to be copied by the
// caller if kept; anything else in a new slice.
func (l *lexer) str() ([]byte, error) {
	start := l.pos + 1
	i := start
	for i+8 <= len(l.data) && plain8(binary.LittleEndian.Uint64(l.data[i:])) {
		i += 8 // a token is long: most of a body is plain string text
	}
	for ; i < len(l.data); i++ {
		switch c := l.data[i]; {
		case c == '"':
			l.pos = i + 1
			return l.data[start:i], nil
		case c == '\\' || c < ' ' || c >= utf8.RuneSelf:
			return l.strSlow(start, i)
		}
	}
	return nil, errMalformed
}

// plain8 reports whether none of the eight bytes in w ends a string, starts
// an escape, is a control character or is outside ASCII. Each test sets
// the high bit of a byte that fails it; a borrow can only spread from a
// byte that failed already.
func plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	fails := (w - ones*' ') & ^w
	fails |= (quote - ones) & ^quote
	fails |= (backslash - ones) & ^backslash
	return (fails|w)&highs == 0
}

// strSlow finishes reading a string whose text starts at start and that
// needs a closer look from i on.
func (l *lexer) strSlow(start, i int) ([]byte, error) {
	plain := true
	for ; i < len(l.data); i++ {
		switch c := l.data[i]; {
		case c == '"':
			l.pos = i + 1
			if text := l.data[start:i]; !plain || !utf8.Valid(text) {
				return unquote(text), nil
			}
			return l.data[start:i], nil
		case c < ' ':
			return nil, errMalformed
		case c == '\\':
			n := escapeLen(l.data[i:])
			if n == 0 {
				return nil, errMalformed
			}
			plain = false
			i += n - 1
		}
	}
	return nil, errMalformed
}

// escapeLen is the length of the escape sequence that starts s, or 0 if
// none valid does.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if hex4(s[2:]) >= 0 {
			return 6
		}
	}
	return 0
}

// hex4 reads four hexadecimal digits, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquote decodes the text of a string that str has checked, as
// encoding/json does: escapes decoded, a surrogate pair joined, an
// unpaired surrogate and each byte of invalid UTF-8 replaced by U+FFFD.
func unquote(s []byte) []byte {
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\' && s[r+1] == 'u':
			rr := hex4(s[r+2:])
			r += 6
			if utf16.IsSurrogate(rr) {
				if pair := utf16.DecodeRune(rr, lowSurrogate(s[r:])); pair != unicode.ReplacementChar {
					rr = pair
					r += 6
				} else {
					rr = unicode.ReplacementChar
				}
			}
			b = utf8.AppendRune(b, rr)
		case c == '\\':
			b = append(b, unescape(s[r+1]))
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return b
}

// lowSurrogate reads the \uXXXX escape that may follow a high surrogate,
// or returns -1.
func lowSurrogate(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	return hex4(s[2:])
}

func unescape(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // '"', '\\' or '/'
}
