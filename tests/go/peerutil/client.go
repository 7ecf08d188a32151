package peerutil

import (
	"context"
	"flag"
	"fmt"

	"github.com/filecoin-project/go-address"
	cborutil "github.com/filecoin-project/go-cbor-util"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/filecoin-project/go-state-types/big"
	"github.com/filecoin-project/go-state-types/builtin/v9/market"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// StartBuffer is droplet-client's: a deal starts eight days of epochs after the head.
const StartBuffer = 8 * 2880

// ClientFlags are the flags both Go storage clients take.
type ClientFlags struct {
	Node, Token, Miner, Key    *string
	Piece, Root, PricePerEpoch *string
	PieceSize                  *uint64
	Duration                   *int64
}

// RegisterClientFlags adds the shared client flags to fs.
func RegisterClientFlags(fs *flag.FlagSet) ClientFlags {
	return ClientFlags{
		Node:          fs.String("node", "", "full node JSON-RPC URL (http://host:port/rpc/v1)"),
		Token:         fs.String("token", "", "full node token"),
		Miner:         fs.String("miner", "", "miner actor address"),
		Key:           fs.String("key", "", "client key, as `lotus wallet export` prints it"),
		Piece:         fs.String("piece", "", "piece CID"),
		PieceSize:     fs.Uint64("piece-size", 0, "padded piece size"),
		Root:          fs.String("root", "", "payload root CID"),
		Duration:      fs.Int64("duration", 180*2880, "deal duration in epochs"),
		PricePerEpoch: fs.String("price-per-epoch", "0", "storage price per epoch, attoFIL"),
	}
}

// Provider is a storage provider as a client reaches it: its miner on chain and a host
// connected to it.
type Provider struct {
	Node  Node
	Miner address.Address
	Info  Miner
	Host  host.Host
	Peer  peer.ID
}

// Dial reads the miner from chain state and connects a fresh libp2p host to its peer.
func Dial(ctx context.Context, f ClientFlags) (Provider, error) {
	p := Provider{Node: Node{URL: *f.Node, Token: *f.Token}}
	var err error
	if p.Miner, err = address.NewFromString(*f.Miner); err != nil {
		return p, fmt.Errorf("miner address: %w", err)
	}
	if p.Info, err = p.Node.MinerInfo(p.Miner); err != nil {
		return p, fmt.Errorf("reading the miner from chain: %w", err)
	}
	if p.Peer, err = peer.Decode(p.Info.PeerID); err != nil {
		return p, fmt.Errorf("the miner's peer ID on chain: %w", err)
	}
	if p.Host, err = libp2p.New(libp2p.NoListenAddrs); err != nil {
		return p, fmt.Errorf("libp2p host: %w", err)
	}
	if err := p.Host.Connect(ctx, peer.AddrInfo{ID: p.Peer, Addrs: p.Info.Multiaddrs}); err != nil {
		return p, fmt.Errorf("connecting to the provider: %w", err)
	}
	return p, nil
}

// Proposal builds and signs a deal for the flags' piece as droplet-client would: it starts
// StartBuffer after the head, offers the minimum provider collateral plus 20 %, and is
// labelled with the root CID.
func (p Provider) Proposal(f ClientFlags, w Wallet) (market.ClientDealProposal, error) {
	fail := func(what string, err error) (market.ClientDealProposal, error) {
		return market.ClientDealProposal{}, fmt.Errorf("%s: %w", what, err)
	}
	size := abi.PaddedPieceSize(*f.PieceSize)
	head, err := p.Node.Head()
	if err != nil {
		return fail("chain head", err)
	}
	minColl, _, err := p.Node.CollateralBounds(size, false)
	if err != nil {
		return fail("collateral bounds", err)
	}
	price, err := big.FromString(*f.PricePerEpoch)
	if err != nil {
		return fail("price", err)
	}
	piece, err := cid.Parse(*f.Piece)
	if err != nil {
		return fail("piece CID", err)
	}
	root, err := cid.Parse(*f.Root)
	if err != nil {
		return fail("root CID", err)
	}
	label, err := market.NewLabelFromString(root.String())
	if err != nil {
		return fail("label", err)
	}
	start := head + StartBuffer
	proposal := market.DealProposal{
		PieceCID:             piece,
		PieceSize:            size,
		Client:               w.Address,
		Provider:             p.Miner,
		Label:                label,
		StartEpoch:           start,
		EndEpoch:             start + abi.ChainEpoch(*f.Duration),
		StoragePricePerEpoch: price,
		ProviderCollateral:   big.Div(big.Mul(minColl, big.NewInt(12)), big.NewInt(10)),
		ClientCollateral:     big.Zero(),
	}
	buf, err := cborutil.Dump(&proposal)
	if err != nil {
		return fail("encoding the proposal", err)
	}
	sig, err := w.Sign(buf)
	if err != nil {
		return fail("signing the proposal", err)
	}
	return market.ClientDealProposal{Proposal: proposal, ClientSignature: sig}, nil
}
