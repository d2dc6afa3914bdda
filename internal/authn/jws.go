package authn

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"crypto/sha256"
	"crypto/sha512"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// This file parses and verifies compact JWS by hand rather than through
// jwx's jws package, the stack's JOSE library, because jwx is lenient
// exactly where a session-token verifier must be strict: its base64 decoder
// accepts padding and either alphabet without checking trailing bits, and
// it accepts unknown critical extensions (and honours "b64": false). A
// strict first pass would be most of this file anyway. Three fuzz targets
// check it against encoding/base64 and encoding/json.

// maxTokenBytes bounds the token before any decoding. Clerk session tokens
// are one to two KiB; rejecting anything past 16 KiB up front keeps a flood
// of huge garbage tokens cheap.
const maxTokenBytes = authz.MaxTokenBytes

// Header values Verdict accepts.
const (
	typJWT = "JWT"
	// catSession marks a Clerk session token; catIgnore carries no class
	// information. Any other cat (JWT template, M2M, OAuth) is not a
	// session token.
	catSession = "cl_B7d4PD111AAA"
	catIgnore  = "cl_I7d4PD111III"
)

// hashFor returns the hash of an allowed algorithm, or 0 for any other
// (none, HMAC, ECDSA, RSA-PSS, ...).
func hashFor(alg string) crypto.Hash {
	switch alg {
	case "RS256":
		return crypto.SHA256
	case "RS384":
		return crypto.SHA384
	case "RS512":
		return crypto.SHA512
	}
	return 0
}

// compact is a token split into its decoded parts.
type compact struct {
	alg, kid     string
	typ, cat     string // raw JSON; "" when absent
	crit         string // raw JSON; "" when absent
	payload      []byte
	signingInput []byte
	signature    []byte
}

// parseCompact splits and decodes a compact JWS: exactly three
// canonical base64url parts, the first two JSON objects.
func parseCompact(token string) (*compact, error) {
	if len(token) > maxTokenBytes {
		return nil, authz.InvalidToken("token is larger than 16 KiB", nil)
	}
	raw := []byte(token)
	h, rest, _ := bytes.Cut(raw, []byte{'.'})
	p, s, ok := bytes.Cut(rest, []byte{'.'})
	if !ok || bytes.IndexByte(s, '.') >= 0 {
		return nil, authz.InvalidToken("token is not a JWT: it must have three dot-separated parts", nil)
	}
	t := &compact{signingInput: raw[:len(h)+1+len(p)]}
	// One buffer for all three decoded parts.
	enc := strictBase64
	buf := make([]byte, 0, enc.DecodedLen(len(h))+enc.DecodedLen(len(p))+enc.DecodedLen(len(s))+2)
	header, buf, err := decodeSegment(buf, h)
	if err != nil {
		return nil, authz.InvalidToken("token header is not canonical unpadded base64url", err)
	}
	if err := t.readHeader(header); err != nil {
		return nil, authz.InvalidToken("token header is not a JSON object with string alg and kid", err)
	}
	if t.payload, buf, err = decodeSegment(buf, p); err != nil {
		return nil, authz.InvalidToken("token payload is not canonical unpadded base64url", err)
	}
	if t.signature, _, err = decodeSegment(buf, s); err != nil {
		return nil, authz.InvalidToken("token signature is not canonical unpadded base64url", err)
	}
	return t, nil
}

func (t *compact) readHeader(header []byte) error {
	var alg, kid string
	err := eachMember(header, func(key, value string) {
		switch key {
		case "alg":
			alg = value
		case "kid":
			kid = value
		case "typ":
			t.typ = value
		case "cat":
			t.cat = value
		case "crit":
			t.crit = value
		}
	})
	if err != nil {
		return err
	}
	var ok bool
	if t.alg, ok = rawString(alg); !ok {
		return errors.New("alg is missing or not a string")
	}
	if t.kid, ok = rawString(kid); !ok && kid != "" {
		return errors.New("kid is not a string")
	}
	return nil
}

// strictBase64 is base64url as RFC 7515 §2 spells it: no padding, and
// (Strict) the unused bits of the last character zero. Every segment then
// has exactly one spelling, so one signature is one token string and a
// denylist keyed by a hash of the token cannot be dodged by respelling it.
var strictBase64 = base64.RawURLEncoding.Strict()

// decodeSegment decodes one segment, appending to buf; it returns the
// decoded bytes and the rest of buf's capacity. The decoder refuses
// padding, the standard alphabet's + and /, and non-zero trailing bits;
// line breaks, which even a strict decoder skips, are refused here.
func decodeSegment(buf, seg []byte) (decoded, rest []byte, err error) {
	if bytes.ContainsAny(seg, "\r\n") {
		return nil, nil, errors.New("line break in segment")
	}
	out := buf[:strictBase64.DecodedLen(len(seg))]
	n, err := strictBase64.Decode(out, seg)
	if err != nil {
		return nil, nil, err
	}
	return out[:n:n], buf[n:n], nil
}

// checkHeader applies the header rules in Clerk's order (typ, alg, cat),
// then crit, which Clerk's SDK does not check.
func (t *compact) checkHeader() error {
	if t.typ != "" {
		typ, ok := rawString(t.typ)
		if !ok {
			return authz.InvalidToken("token type (typ) is not a string", nil)
		}
		if typ != typJWT {
			return authz.InvalidToken(fmt.Sprintf("token type %s is not allowed; only JWT", clip(typ)), nil)
		}
	}
	if hashFor(t.alg) == 0 {
		return authz.InvalidToken(fmt.Sprintf("algorithm %s is not allowed; only RS256, RS384, RS512", clip(t.alg)), nil)
	}
	if t.cat != "" {
		cat, ok := rawString(t.cat)
		if !ok {
			return authz.InvalidToken("token category (cat) is not a string", nil)
		}
		if cat != catSession && cat != catIgnore {
			return authz.InvalidToken(fmt.Sprintf("token category %s is not a session token", clip(cat)), nil)
		}
	}
	return checkCrit(t.crit)
}

// registeredHeaders are the header parameters RFC 7515 §4.1 defines, which
// crit must not list.
var registeredHeaders = map[string]bool{
	"alg": true, "jku": true, "jwk": true, "kid": true, "x5u": true, "x5c": true,
	"x5t": true, "x5t#S256": true, "typ": true, "cty": true, "crit": true,
}

// checkCrit rejects every crit header. RFC 7515 §4.1.11 makes a token
// invalid when crit lists an extension the recipient does not understand,
// and Verdict understands none: honouring "b64": false (RFC 7797), for one,
// would change what the signature covers. A malformed crit gets its own
// message so that a token's producer can tell a broken header from an
// unsupported extension; no message repeats the names listed.
func checkCrit(raw string) error {
	if raw == "" {
		return nil
	}
	var names []string
	if err := json.Unmarshal([]byte(raw), &names); err != nil || len(names) == 0 {
		return authz.InvalidToken("token header crit is not a non-empty array of header parameter names", err)
	}
	for _, name := range names {
		if registeredHeaders[name] {
			return authz.InvalidToken("token header crit lists a header parameter that RFC 7515 defines; only extensions may be critical", nil)
		}
	}
	return authz.InvalidToken("token header marks an extension critical (crit) that Verdict does not support", nil)
}

// verifySignature checks the RSASSA-PKCS1-v1_5 signature with alg's hash.
func (t *compact) verifySignature(key *rsa.PublicKey) error {
	hash := hashFor(t.alg)
	if err := rsa.VerifyPKCS1v15(key, hash, digest(hash, t.signingInput), t.signature); err != nil {
		return authz.InvalidToken("token signature does not verify", err)
	}
	return nil
}

// digest hashes with the fixed-size functions, which need no hash.Hash.
func digest(hash crypto.Hash, data []byte) []byte {
	switch hash {
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return d[:]
	}
	d := sha256.Sum256(data)
	return d[:]
}
