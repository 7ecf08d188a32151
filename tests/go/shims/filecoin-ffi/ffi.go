// Package ffi is a pure-Go stand-in for filecoin-ffi with only the two functions
// go-commp-utils' ffiwrapper calls, so go-graphsplit builds with CGO_ENABLED=0 for the
// interop tests. Piece commitments come from go-fil-commp-hashhash (the same fr32 padding
// and SHA254 tree as the proofs library). Nothing from filecoin-ffi is linked.
package ffi

import (
	"fmt"
	"io"
	"os"

	commp "github.com/filecoin-project/go-fil-commp-hashhash"
	commcid "github.com/filecoin-project/go-fil-commcid"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/ipfs/go-cid"
)

// GeneratePieceCIDFromFile is the piece CID of the first pieceSize bytes of pieceFile.
func GeneratePieceCIDFromFile(_ abi.RegisteredSealProof, pieceFile *os.File, pieceSize abi.UnpaddedPieceSize) (cid.Cid, error) {
	calc := &commp.Calc{}
	n, err := io.Copy(calc, io.LimitReader(pieceFile, int64(pieceSize)))
	if err != nil {
		return cid.Undef, err
	}
	if n != int64(pieceSize) {
		return cid.Undef, fmt.Errorf("piece file holds %d bytes, %d expected", n, pieceSize)
	}
	digest, padded, err := calc.Digest()
	if err != nil {
		return cid.Undef, err
	}
	if abi.PaddedPieceSize(padded) != pieceSize.Padded() {
		return cid.Undef, fmt.Errorf("padded size %d, %d expected", padded, pieceSize.Padded())
	}
	return commcid.DataCommitmentV1ToCID(digest)
}

// GenerateUnsealedCID is not needed by graphsplit's chunk and commP commands.
func GenerateUnsealedCID(abi.RegisteredSealProof, []abi.PieceInfo) (cid.Cid, error) {
	return cid.Undef, fmt.Errorf("GenerateUnsealedCID is not in the test shim for filecoin-ffi")
}
