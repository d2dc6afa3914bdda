package bundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// signaturesFile is OPA's name for a bundle's signatures, at any depth.
const signaturesFile = ".signatures.json"

// defaultPlugin is OPA's name for its own signer and verifier, which
// `opa build --signing-key` writes into .signatures.json.
const defaultPlugin = "_default"

// minRSABits refuses RSA keys too short to mean anything.
const minRSABits = 2048

// verificationKeyID names the one configured key. OPA picks a key by the
// config's key id before the token's kid, so with one key the token's kid
// (`opa build --verification-key-id`, "default" unless set) never matters.
const verificationKeyID = "verdict"

// VerificationKey is the public key bundles must be signed with
// (--bundle-verification-key), with the algorithm its type implies: RS256
// for RSA, ES256 for ECDSA on P-256. The algorithm comes from the key,
// never from the signature's header, so a signature cannot choose how it
// is checked.
type VerificationKey struct {
	pem string
	alg string
}

// ParseVerificationKey reads a PEM public key ("PUBLIC KEY", or "RSA
// PUBLIC KEY"): RSA of at least 2048 bits, or ECDSA on P-256.
func ParseVerificationKey(pemBytes []byte) (*VerificationKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("bundle verification key: no PEM block")
	}
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("bundle verification key: a PEM %q block; want the public key (\"PUBLIC KEY\")", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("bundle verification key: %w", err)
	}
	key := &VerificationKey{pem: string(pem.EncodeToMemory(block))}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("bundle verification key: RSA key of %d bits; want at least %d", k.N.BitLen(), minRSABits)
		}
		key.alg = "RS256"
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("bundle verification key: ECDSA key on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		key.alg = "ES256"
	default:
		return nil, fmt.Errorf("bundle verification key: a %T; want RSA (RS256) or ECDSA P-256 (ES256)", pub)
	}
	return key, nil
}

// Algorithm is the signature algorithm bundles must use: "RS256" or "ES256".
func (k *VerificationKey) Algorithm() string { return k.alg }

// config is the key as OPA's verification takes it.
func (k *VerificationKey) config() *opabundle.VerificationConfig {
	keys := map[string]*opabundle.KeyConfig{verificationKeyID: {Key: k.pem, Algorithm: k.alg}}
	return opabundle.NewVerificationConfig(keys, verificationKeyID, "", nil)
}

// SignatureProblem names why a bundle's signatures do not hold.
type SignatureProblem string

// The ways a bundle's signatures can fail, in the order they are checked.
const (
	// Unsigned: no .signatures.json.
	Unsigned SignatureProblem = "unsigned"
	// BadSignature: the signature does not verify with the key (signed
	// with another key, altered, or not OPA's format).
	BadSignature SignatureProblem = "bad_signature"
	// Uncovered: a file the signature does not list.
	Uncovered SignatureProblem = "file_not_signed"
	// Tampered: a file whose content differs from what was signed.
	Tampered SignatureProblem = "file_changed"
	// Missing: a file the signature lists but the bundle lacks.
	Missing SignatureProblem = "file_missing"
)

// VerificationError refuses a bundle whose signatures do not hold.
type VerificationError struct {
	Problem SignatureProblem
	// File is the file concerned, when there is one.
	File string
	// Err is OPA's account of the failure, when there is one.
	Err error
}

func (e *VerificationError) Error() string {
	var msg string
	switch e.Problem {
	case Unsigned:
		msg = "the bundle has no .signatures.json, and a verification key is configured"
	case BadSignature:
		msg = "the signature in .signatures.json does not verify with the configured key"
	case Uncovered:
		msg = e.File + " is not covered by .signatures.json"
	case Tampered:
		msg = e.File + " differs from the signed content"
	case Missing:
		msg = e.File + " is signed but not in the bundle"
	default:
		msg = string(e.Problem)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return "bundle refused: " + msg
}

func (e *VerificationError) Unwrap() error { return e.Err }

// verify checks the bundle's .signatures.json against key the way OPA's
// bundle reader does, with OPA's own functions (the JWS and its claims,
// then each file's digest), so a bundle OPA accepts is accepted and one it
// refuses is refused; it only says which check failed. Every file but the
// signatures themselves must be listed, Verdict's or not: an unlisted
// README could be anything.
func verify(entries []entry, key *VerificationKey) error {
	var sigs *entry
	for i := range entries {
		if path.Base(entries[i].name) != signaturesFile {
			continue
		}
		if sigs != nil {
			return &VerificationError{Problem: BadSignature, Err: fmt.Errorf("two signatures files, %s and %s", sigs.name, entries[i].name)}
		}
		sigs = &entries[i]
	}
	if sigs == nil {
		return &VerificationError{Problem: Unsigned}
	}
	var sc opabundle.SignaturesConfig
	if err := json.Unmarshal(sigs.data, &sc); err != nil {
		return &VerificationError{Problem: BadSignature, Err: fmt.Errorf("decode %s: %w", sigs.name, err)}
	}
	// A plugin other than OPA's default would verify by other rules, or
	// not at all; only the default is registered, but say so plainly.
	if sc.Plugin != "" && sc.Plugin != defaultPlugin {
		return &VerificationError{Problem: BadSignature, Err: fmt.Errorf("signed with plugin %q; Verdict verifies OPA's default format only", sc.Plugin)}
	}
	signed, err := opabundle.VerifyBundleSignature(sc, key.config())
	if err != nil {
		return &VerificationError{Problem: BadSignature, Err: err}
	}
	for _, e := range entries {
		if e.name == sigs.name {
			continue
		}
		if _, ok := signed[e.name]; !ok {
			return &VerificationError{Problem: Uncovered, File: e.name}
		}
		// VerifyBundleFile removes each file it checks from signed.
		if err := opabundle.VerifyBundleFile(e.name, *bytes.NewBuffer(e.data), signed); err != nil {
			return &VerificationError{Problem: Tampered, File: e.name, Err: err}
		}
	}
	if len(signed) > 0 {
		return &VerificationError{Problem: Missing, File: strings.Join(slices.Sorted(maps.Keys(signed)), ", ")}
	}
	return nil
}
