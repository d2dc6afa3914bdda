package authn

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// minKeyBits is the smallest RSA modulus accepted. Clerk signs with 2048-bit
// keys; anything smaller in a key set is a misconfiguration or an attack.
const minKeyBits = 2048

// StaticKeys is a fixed set of verification keys, loaded once from a JWKS
// document or from a PEM public key. It is safe for concurrent use.
type StaticKeys struct {
	byKID map[string]*rsa.PublicKey
	// single is set for a PEM source, whose one key answers every kid, as
	// Clerk's networkless verification does: the signature decides.
	single *rsa.PublicKey
}

// Key returns the key for kid (any kid for a PEM source).
func (s *StaticKeys) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	switch {
	case s.single != nil:
		return s.single, nil
	case len(s.byKID) == 0:
		return nil, authz.ErrNoKeys
	}
	return lookupKID(s.byKID, kid)
}

// Ready reports whether a key is loaded; always true for a parsed set.
func (s *StaticKeys) Ready() bool { return s.single != nil || len(s.byKID) > 0 }

func lookupKID(keys map[string]*rsa.PublicKey, kid string) (*rsa.PublicKey, error) {
	if kid == "" {
		return nil, fmt.Errorf("token header has no kid: %w", ErrUnknownKey)
	}
	if k := keys[kid]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("kid %s: %w", clip(kid), ErrUnknownKey)
}

// LoadJWKSFile reads a JWKS document from path.
func LoadJWKSFile(path string) (*StaticKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read jwks file: %w", err)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("jwks file %s: %w", path, err)
	}
	return keys, nil
}

// ParseJWKS parses a JWK Set (or a single JWK). Keys that cannot verify an
// RS256/RS384/RS512 signature (other key types, use other than "sig", other
// algorithms, no kid, moduli under 2048 bits) are skipped; it is an error
// when none is left.
func ParseJWKS(data []byte) (*StaticKeys, error) {
	keys, err := parseJWKSKeys(data)
	if err != nil {
		return nil, err
	}
	return &StaticKeys{byKID: keys}, nil
}

func parseJWKSKeys(data []byte) (map[string]*rsa.PublicKey, error) {
	// Ignoring parse errors lets one exotic key (an unknown curve, say) sit
	// beside the RSA keys without making the whole set unusable.
	set, err := jwk.Parse(data, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		pub, ok := rsaSigningKey(k)
		if ok && keys[k.KeyID()] == nil {
			keys[k.KeyID()] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("parse jwks: no usable RSA signing key with a kid")
	}
	return keys, nil
}

// rsaSigningKey returns k's RSA public key if k may verify session tokens.
func rsaSigningKey(k jwk.Key) (*rsa.PublicKey, bool) {
	if k == nil || k.KeyType() != jwa.RSA || k.KeyID() == "" {
		return nil, false
	}
	if use := k.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil, false
	}
	if alg := k.Algorithm().String(); alg != "" && hashFor(alg) == 0 {
		return nil, false
	}
	pk, err := k.PublicKey()
	if err != nil {
		return nil, false
	}
	var pub rsa.PublicKey
	if err := pk.Raw(&pub); err != nil || pub.N.BitLen() < minKeyBits {
		return nil, false
	}
	return &pub, true
}

// ParsePEM parses an RSA public key in PEM form: PKIX "PUBLIC KEY" (what
// Clerk's dashboard shows) or PKCS #1 "RSA PUBLIC KEY". It also accepts the
// text with its newlines escaped as a literal `\n`, or squeezed onto one
// line, as it often arrives in an environment variable. The returned set
// answers every kid with this key.
func ParsePEM(pemText []byte) (*StaticKeys, error) {
	block := decodePEM(pemText)
	if block == nil {
		return nil, errors.New("parse pem: no PEM block found")
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse pem: %w", err)
		}
		var ok bool
		if pub, ok = k.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("parse pem: key is %T, not RSA", k)
		}
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse pem: %w", err)
		}
		pub = k
	default:
		return nil, fmt.Errorf("parse pem: block %q is not a public key", block.Type)
	}
	if pub.N.BitLen() < minKeyBits {
		return nil, fmt.Errorf("parse pem: RSA key has %d bits, need at least %d", pub.N.BitLen(), minKeyBits)
	}
	return &StaticKeys{single: pub}, nil
}

// decodePEM finds the first PEM block, repairing the two ways environment
// variables mangle one: escaped newlines and everything on one line.
func decodePEM(text []byte) *pem.Block {
	text = bytes.ReplaceAll(text, []byte(`\r\n`), []byte("\n"))
	text = bytes.ReplaceAll(text, []byte(`\n`), []byte("\n"))
	if block, _ := pem.Decode(text); block != nil {
		return block
	}
	return decodeOneLinePEM(text)
}

func decodeOneLinePEM(text []byte) *pem.Block {
	const begin, end, dashes = "-----BEGIN ", "-----END ", "-----"
	_, rest, ok := bytes.Cut(text, []byte(begin))
	if !ok {
		return nil
	}
	typ, rest, ok := bytes.Cut(rest, []byte(dashes))
	if !ok {
		return nil
	}
	body, _, ok := bytes.Cut(rest, []byte(end))
	if !ok {
		return nil
	}
	body = bytes.Join(bytes.Fields(body), nil)
	repaired := fmt.Sprintf("%s%s%s\n%s\n%s%s%s\n", begin, typ, dashes, body, end, typ, dashes)
	block, _ := pem.Decode([]byte(repaired))
	return block
}
