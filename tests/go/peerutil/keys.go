package peerutil

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/filecoin-project/go-address"
	gocrypto "github.com/filecoin-project/go-crypto"
	"github.com/filecoin-project/go-state-types/crypto"
	"golang.org/x/crypto/blake2b"
)

// Wallet is one secp256k1 key, as a Go client holds it.
type Wallet struct {
	private []byte
	Address address.Address
}

// ImportKey reads `lotus wallet export` output: the hex of a KeyInfo JSON.
func ImportKey(exported string) (Wallet, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(exported))
	if err != nil {
		return Wallet{}, fmt.Errorf("key is not hex: %w", err)
	}
	var ki struct {
		Type       string
		PrivateKey []byte
	}
	if err := json.Unmarshal(raw, &ki); err != nil {
		return Wallet{}, fmt.Errorf("key is not a KeyInfo: %w", err)
	}
	if ki.Type != "secp256k1" {
		return Wallet{}, fmt.Errorf("key type %q: the Go peers sign with secp256k1 keys", ki.Type)
	}
	addr, err := address.NewSecp256k1Address(gocrypto.PublicKey(ki.PrivateKey))
	if err != nil {
		return Wallet{}, err
	}
	return Wallet{private: ki.PrivateKey, Address: addr}, nil
}

// Sign as a Filecoin secp256k1 key signs: over the blake2b-256 of msg.
func (w Wallet) Sign(msg []byte) (crypto.Signature, error) {
	digest := blake2b.Sum256(msg)
	sig, err := gocrypto.Sign(w.private, digest[:])
	if err != nil {
		return crypto.Signature{}, err
	}
	return crypto.Signature{Type: crypto.SigTypeSecp256k1, Data: sig}, nil
}

// blsDST is Filecoin's BLS signature domain (min-pk, G2 signatures).
var blsDST = []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_")

// Verify checks sig over msg by the key address signer (f1 secp256k1 or f3 BLS), in pure Go.
func Verify(sig *crypto.Signature, signer address.Address, msg []byte) error {
	if sig == nil {
		return fmt.Errorf("no signature")
	}
	switch sig.Type {
	case crypto.SigTypeSecp256k1:
		digest := blake2b.Sum256(msg)
		pub, err := gocrypto.EcRecover(digest[:], sig.Data)
		if err != nil {
			return fmt.Errorf("secp256k1 signature: %w", err)
		}
		got, err := address.NewSecp256k1Address(pub)
		if err != nil {
			return err
		}
		if got != signer {
			return fmt.Errorf("secp256k1 signature is by %s, not %s", got, signer)
		}
		return nil
	case crypto.SigTypeBLS:
		if signer.Protocol() != address.BLS {
			return fmt.Errorf("a BLS signature, but the signer %s is not a BLS address", signer)
		}
		var pk bls12381.G1Affine
		if _, err := pk.SetBytes(signer.Payload()); err != nil {
			return fmt.Errorf("BLS public key: %w", err)
		}
		var s bls12381.G2Affine
		if _, err := s.SetBytes(sig.Data); err != nil {
			return fmt.Errorf("BLS signature: %w", err)
		}
		h, err := bls12381.HashToG2(msg, blsDST)
		if err != nil {
			return err
		}
		_, _, g1, _ := bls12381.Generators()
		var negG1 bls12381.G1Affine
		negG1.Neg(&g1)
		ok, err := bls12381.PairingCheck([]bls12381.G1Affine{pk, negG1}, []bls12381.G2Affine{h, s})
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("BLS signature does not verify for %s", signer)
		}
		return nil
	}
	return fmt.Errorf("signature type %d is not secp256k1 or BLS", sig.Type)
}
