package httpapi

import "errors"

// The request decoder reads JSON itself, in one pass, rather than walking
// a body with encoding/json's Decoder.Token and decoding it again with
// Decoder.Decode: both allocate per token, and decoding was most of the
// time of a cached decision. It must judge bodies exactly as encoding/json
// does, so it follows encoding/json's scanner byte for byte (white space,
// numbers, escapes, invalid UTF-8 taken and replaced, depth at most
// maxDepth) and encoding/json's unquoting (unpaired surrogates become
// U+FFFD). Where it refuses a body, encoding/json reads the body again to
// say where and why, so messages and byte offsets stay encoding/json's own.
// FuzzDecodeCheck holds it to the two-pass reference it replaced.

// errMalformed stops a decode at input encoding/json refuses; refuse asks
// encoding/json for the message.
var errMalformed = errors.New("malformed JSON")

// maxDepth bounds nesting as encoding/json's scanner does: it refuses the
// container that would be the 10001st open one.
const maxDepth = 10000

// lexer reads the JSON text in data from pos on.
type lexer struct {
	data  []byte
	pos   int
	depth int // containers open at pos
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (l *lexer) space() {
	for l.pos < len(l.data) && isSpace(l.data[l.pos]) {
		l.pos++
	}
}

// start skips white space before a value and returns its first byte.
func (l *lexer) start() (byte, error) {
	l.space()
	if l.pos == len(l.data) {
		return 0, errMalformed
	}
	return l.data[l.pos], nil
}

// kindAt names the JSON kind of a value by its first byte, as encoding/json's
// type errors do; "" if no value starts so.
func kindAt(c byte) string {
	switch {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == '-' || c >= '0' && c <= '9':
		return "number"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	}
	return ""
}

// literal reads true, false or null, whichever starts at pos.
func (l *lexer) literal() (string, error) {
	for _, word := range [...]string{"true", "false", "null"} {
		if word[0] == l.data[l.pos] {
			if len(l.data)-l.pos < len(word) || string(l.data[l.pos:l.pos+len(word)]) != word {
				return "", errMalformed
			}
			l.pos += len(word)
			return word, nil
		}
	}
	return "", errMalformed
}

// number reads the number at pos and returns its text: -?(0|[1-9]\d*)
// (\.\d+)?([eE][+-]?\d+)?, ending at the first byte that cannot continue it.
func (l *lexer) number() ([]byte, error) {
	i := l.pos
	if l.data[i] == '-' {
		i++
	}
	switch {
	case i < len(l.data) && l.data[i] == '0':
		i++
	case i < len(l.data) && l.data[i] >= '1' && l.data[i] <= '9':
		i = l.digits(i)
	default:
		return nil, errMalformed
	}
	if i < len(l.data) && l.data[i] == '.' {
		if i++; !l.isDigit(i) {
			return nil, errMalformed
		}
		i = l.digits(i)
	}
	if i < len(l.data) && (l.data[i] == 'e' || l.data[i] == 'E') {
		if i++; i < len(l.data) && (l.data[i] == '+' || l.data[i] == '-') {
			i++
		}
		if !l.isDigit(i) {
			return nil, errMalformed
		}
		i = l.digits(i)
	}
	text := l.data[l.pos:i]
	l.pos = i
	return text, nil
}

func (l *lexer) isDigit(i int) bool { return i < len(l.data) && l.data[i] >= '0' && l.data[i] <= '9' }

func (l *lexer) digits(i int) int {
	for l.isDigit(i) {
		i++
	}
	return i
}

// open enters the container at pos, counting its depth.
func (l *lexer) open() error {
	if l.depth++; l.depth > maxDepth {
		return errMalformed
	}
	l.pos++
	return nil
}

// object reads the object at pos. For each member it calls key with the
// unquoted key before the colon is read (a repeated key is found where a
// token reader finds it, before any fault that follows it), then value
// with pos at the member's value. A fault either returns is placed under
// the key (fieldError.under).
func (l *lexer) object(key, value func(key []byte) error) error {
	if err := l.open(); err != nil {
		return err
	}
	for n := 0; ; n++ {
		if more, err := l.item(n, '}'); !more || err != nil {
			return err
		}
		if err := l.member(key, value); err != nil {
			return err
		}
	}
}

// member reads one member of an object.
func (l *lexer) member(key, value func(key []byte) error) error {
	if c, err := l.start(); err != nil || c != '"' {
		return errMalformed
	}
	k, err := l.str()
	if err == nil {
		err = key(k)
	}
	if err == nil {
		err = l.colon()
	}
	if err == nil {
		err = value(k)
	}
	return under(err, k)
}

func (l *lexer) colon() error {
	if c, err := l.start(); err != nil || c != ':' {
		return errMalformed
	}
	l.pos++
	return nil
}

// array reads the array at pos, calling elem with pos at each element. A
// fault elem returns is placed at the element's index.
func (l *lexer) array(elem func(i int) error) error {
	if err := l.open(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if more, err := l.item(i, ']'); !more || err != nil {
			return err
		}
		if err := at(elem(i), i); err != nil {
			return err
		}
	}
}

// item moves to item n of the container that end closes, over the comma
// that must come before every item but the first. At end it steps out of
// the container and reports no more items. Whether an item is there is
// the item's reader's to judge ("[1,]" ends in no value).
func (l *lexer) item(n int, end byte) (more bool, err error) {
	c, err := l.start()
	switch {
	case err != nil:
		return false, err
	case c == end:
		l.pos++
		l.depth--
		return false, nil
	case n == 0:
		return true, nil
	case c != ',':
		return false, errMalformed
	}
	l.pos++
	return true, nil
}
