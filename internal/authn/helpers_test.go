package authn_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/devtoken"
)

// testNow is the fixed clock of every verification test.
func testNow() time.Time { return time.Unix(1_800_000_000, 0) }

const (
	testSkew   = 5 * time.Second
	testIssuer = "https://clerk.example.test"
	testAZP    = "https://app.example.test"
)

// fixture holds a real signing key with its JWKS, and a second key that
// is not in the JWKS.
type fixture struct {
	iss, other *devtoken.Issuer
	jwks       *authn.StaticKeys
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	iss, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	other, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	jwks, err := authn.ParseJWKS(iss.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS() error = %v", err)
	}
	return &fixture{iss: iss, other: other, jwks: jwks}
}

// claims returns valid session claims at testNow, changed by mod.
func claims(mod func(map[string]any)) map[string]any {
	now := testNow().Unix()
	c := map[string]any{
		"sub": "user_1", "sid": "sess_1", "iss": testIssuer, "azp": testAZP,
		"iat": now, "nbf": now - 10, "exp": now + 60,
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func (f *fixture) header(mod func(map[string]any)) map[string]any {
	h := map[string]any{"alg": "RS256", "kid": f.iss.KeyID(), "typ": "JWT"}
	if mod != nil {
		mod(h)
	}
	return h
}

// sign signs claims with the fixture key under a header changed by mod.
func (f *fixture) sign(t testing.TB, hmod, cmod func(map[string]any)) string {
	t.Helper()
	token, err := f.iss.SignWithHeader(f.header(hmod), claims(cmod))
	if err != nil {
		t.Fatalf("SignWithHeader() error = %v", err)
	}
	return token
}

// segment is the base64url JSON encoding of v, as in a compact JWS.
func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal() error = %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func verifier(keys authn.KeySet, mod func(*authn.Config)) *authn.Verifier {
	cfg := authn.Config{Keys: keys, ClockSkew: testSkew, Now: testNow}
	if mod != nil {
		mod(&cfg)
	}
	return authn.NewVerifier(cfg)
}

// checkRejection reports whether err is a TokenError with the wanted reason
// and a message that is present and does not leak the token.
func checkRejection(t *testing.T, err error, want authz.Reason, token string) {
	t.Helper()
	var te *authz.TokenError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T), want *authz.TokenError with %s", err, err, want)
	}
	if te.Reason != want {
		t.Errorf("Reason = %s (%s), want %s", te.Reason, te.Message, want)
	}
	if te.Message == "" {
		t.Error("Message is empty")
	}
	for _, part := range append(strings.Split(token, "."), token) {
		if len(part) >= 16 && strings.Contains(err.Error(), part) {
			t.Errorf("error %q repeats the token or one of its parts", err)
		}
	}
}

// newRSAKey returns a fresh key and a PEM key set holding its public half.
func newRSAKey(t testing.TB) (*rsa.PrivateKey, *authn.StaticKeys) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("GenerateKey() error = %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey() error = %v", err)
	}
	keys, err := authn.ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatalf("ParsePEM() error = %v", err)
	}
	return key, keys
}

// signRS signs a token with RSASSA-PKCS1-v1_5 and the hash of alg.
func signRS(t testing.TB, key *rsa.PrivateKey, alg string, header, claims map[string]any) string {
	t.Helper()
	return signInput(t, key, alg, segment(t, header)+"."+segment(t, claims))
}

// signInput signs a signing input exactly as written, however its segments
// are spelled, and appends the canonical signature segment.
func signInput(t testing.TB, key *rsa.PrivateKey, alg, input string) string {
	t.Helper()
	hash := map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512}[alg]
	h := hash.New()
	h.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, hash, h.Sum(nil))
	if err != nil {
		t.Fatalf("SignPKCS1v15() error = %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// oneByteTail pads JSON text with spaces to a length of 3n+1, so that its
// base64url form ends in a character with four unused bits and, padded,
// in "==".
func oneByteTail(text string) string {
	for len(text)%3 != 1 {
		text += " "
	}
	return text
}

// respellings returns every other spelling of a canonical base64url
// segment that a lenient decoder reads as the same bytes: the last
// character with its unused low bits set.
func respellings(t testing.TB, seg string) []string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	unused := map[int]uint{2: 4, 3: 2}[len(seg)%4]
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	var out []string
	for bits := 1; bits < 1<<unused; bits++ {
		out = append(out, seg[:len(seg)-1]+string(alphabet[last|bits]))
	}
	if len(out) == 0 {
		t.Fatalf("segment of length %d has no unused bits to respell", len(seg))
	}
	return out
}

// paddedSegment respells a canonical base64url segment with "=" padding.
func paddedSegment(t testing.TB, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("DecodeString(%q) error = %v", seg, err)
	}
	padded := base64.URLEncoding.EncodeToString(b)
	if padded == seg {
		t.Fatalf("segment %q needs no padding", seg)
	}
	return padded
}

// respelledTokens signs, with key, a canonical RS256 token and each other
// spelling of it: padding in one segment or all, and every set tail of
// each segment's last character. Each variant is signed over exactly what
// it holds, so only its spelling can reject it.
func respelledTokens(t testing.TB, key *rsa.PrivateKey) (canonical string, variants map[string]string) {
	t.Helper()
	enc := base64.RawURLEncoding
	// Lengths of 3n+1 bytes leave four unused bits and two padding
	// characters in every segment (the signature is 256 bytes).
	h := enc.EncodeToString([]byte(oneByteTail(`{"alg":"RS256","typ":"JWT"}`)))
	p := enc.EncodeToString([]byte(oneByteTail(string(mustJSON(t, claims(nil))))))
	sign := func(header, payload string) string { return signInput(t, key, "RS256", header+"."+payload) }
	canonical = sign(h, p)
	dot := strings.LastIndexByte(canonical, '.')
	input, sig := canonical[:dot], canonical[dot+1:]
	variants = map[string]string{
		"padded header":     sign(paddedSegment(t, h), p),
		"padded payload":    sign(h, paddedSegment(t, p)),
		"padded signature":  input + "." + paddedSegment(t, sig),
		"padded everywhere": signInput(t, key, "RS256", paddedSegment(t, h)+"."+paddedSegment(t, p)),
	}
	everywhere := variants["padded everywhere"]
	dot = strings.LastIndexByte(everywhere, '.')
	variants["padded everywhere"] = everywhere[:dot+1] + paddedSegment(t, everywhere[dot+1:])
	for _, s := range respellings(t, h) {
		variants[fmt.Sprintf("header ending in %c", s[len(s)-1])] = sign(s, p)
	}
	for _, s := range respellings(t, p) {
		variants[fmt.Sprintf("payload ending in %c", s[len(s)-1])] = sign(h, s)
	}
	for _, s := range respellings(t, sig) {
		variants[fmt.Sprintf("signature ending in %c", s[len(s)-1])] = input + "." + s
	}
	return canonical, variants
}

// principalOf is the principal of a verification, with its error.
func principalOf(v authz.Verification, err error) (authz.Principal, error) {
	return v.Principal, err
}
