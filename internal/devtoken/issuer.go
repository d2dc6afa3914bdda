// Package devtoken mints Clerk-shaped session tokens with an ephemeral RSA
// key, for `verdict dev` and for tests.
//
// An Issuer holds a freshly generated RSA-2048 key that lives only as long as
// the process. It publishes the public half as a JWKS and as PEM, signs
// arbitrary claims (RS256), and builds Clerk v1 or v2 session-token payloads
// from a small request (TokenRequest), including the v2 permission encoding
// (o.per, o.fpm, fea). Nothing here is meant to be trusted outside
// development: the key is never persisted and tokens carry a development
// issuer.
package devtoken

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
)

// keyBits is the RSA modulus size Clerk itself uses for session tokens.
const keyBits = 2048

// Issuer signs development tokens with an ephemeral RSA key. It is safe for
// concurrent use; its key never changes.
type Issuer struct {
	key    *rsa.PrivateKey
	kid    string
	jwks   []byte
	pubPEM []byte
}

// NewIssuer generates a fresh RSA-2048 key and a random key id ("dev-<hex>").
func NewIssuer() (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generate rsa key: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("generate key id: %w", err)
	}
	i := &Issuer{key: key, kid: "dev-" + hex.EncodeToString(id[:])}
	if i.jwks, err = buildJWKS(&key.PublicKey, i.kid); err != nil {
		return nil, err
	}
	if i.pubPEM, err = buildPEM(&key.PublicKey); err != nil {
		return nil, err
	}
	return i, nil
}

// KeyID returns the kid that Sign puts in the header and JWKS publishes.
func (i *Issuer) KeyID() string { return i.kid }

// JWKS returns the public key as a JWK Set document. The caller gets a copy.
func (i *Issuer) JWKS() []byte { return append([]byte(nil), i.jwks...) }

// PublicKeyPEM returns the public key as a PKIX "PUBLIC KEY" PEM block, the
// form Clerk's dashboard shows as "JWT public key". The caller gets a copy.
func (i *Issuer) PublicKeyPEM() []byte { return append([]byte(nil), i.pubPEM...) }

// Sign returns an RS256 compact JWS over claims with the header
// {"alg":"RS256","kid":<KeyID>,"typ":"JWT"}.
func (i *Issuer) Sign(claims map[string]any) (string, error) {
	return i.SignWithHeader(map[string]any{"alg": "RS256", "kid": i.kid, "typ": "JWT"}, claims)
}

// SignWithHeader returns a compact JWS whose header is exactly header and
// whose signature is RS256 with the issuer's key, whatever header says. Tests
// use it to build hostile tokens (another alg, a foreign kid, a cat tag).
func (i *Issuer) SignWithHeader(header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, i.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}

func buildJWKS(pub *rsa.PublicKey, kid string) ([]byte, error) {
	type jwk struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		N   string `json:"n"`
		E   string `json:"e"`
	}
	enc := base64.RawURLEncoding
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{{
		Kty: "RSA", Kid: kid, Use: "sig", Alg: "RS256",
		N: enc.EncodeToString(pub.N.Bytes()),
		E: enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	return b, nil
}

func buildPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
