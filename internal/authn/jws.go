package authn

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	"crypto/sha256"
	"crypto/sha512"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// maxTokenBytes bounds the token before any decoding. Clerk session tokens
// are one to two KiB; rejecting anything past 16 KiB up front keeps a flood
// of huge garbage tokens cheap.
const maxTokenBytes = 16 << 10

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
	payload      []byte
	signingInput []byte
	signature    []byte
}

// parseCompact splits and decodes a compact JWS: exactly three
// base64url parts, the first two JSON objects.
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
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, enc.DecodedLen(len(h))+enc.DecodedLen(len(p))+enc.DecodedLen(len(s))+2)
	header, buf, err := decodeSegment(buf, h)
	if err != nil {
		return nil, authz.InvalidToken("token header is not base64url", err)
	}
	if err := t.readHeader(header); err != nil {
		return nil, authz.InvalidToken("token header is not a JSON object with string alg and kid", err)
	}
	if t.payload, buf, err = decodeSegment(buf, p); err != nil {
		return nil, authz.InvalidToken("token payload is not base64url", err)
	}
	if t.signature, _, err = decodeSegment(buf, s); err != nil {
		return nil, authz.InvalidToken("token signature is not base64url", err)
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

// decodeSegment decodes base64url, unpadded or padded, appending to buf; it
// returns the decoded bytes and the rest of buf's capacity. The decoder
// itself refuses the standard alphabet's + and /; line breaks, which it
// would skip, are refused here.
func decodeSegment(buf, seg []byte) (decoded, rest []byte, err error) {
	if bytes.ContainsAny(seg, "\r\n") {
		return nil, nil, errors.New("line break in segment")
	}
	enc := base64.RawURLEncoding
	if bytes.HasSuffix(seg, []byte{'='}) {
		enc = base64.URLEncoding
	}
	out := buf[:enc.DecodedLen(len(seg))]
	n, err := enc.Decode(out, seg)
	if err != nil {
		return nil, nil, err
	}
	return out[:n:n], buf[n:n], nil
}

// checkHeader applies the header rules in Clerk's order: typ, alg, cat.
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
	return nil
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
