// Command client is a go-fil-markets storage client (storagemarket/network, the streams lotus
// client used) for the legacy protocols, forced onto one version at a time:
//
//	client ask     --node URL --token T --miner ID --version 1.1.0|1.0.1
//	client propose --node URL --token T --miner ID --key HEX --version 1.1.1|1.1.0|1.0.1
//	               --piece CID --piece-size N --root CID --duration EPOCHS --price-per-epoch ATTO
//	client status  --node URL --token T --miner ID --key HEX --version 1.1.0|1.0.1 --proposal CID
//
// Offline ("manual") deals only. Every signed answer is checked against the worker key on chain
// over the bytes go-fil-markets' client checks (the encoding of the version spoken); one that
// does not verify exits non-zero. Answers are printed as one JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"droplet-rs/tests/go/peerutil"

	"github.com/filecoin-project/go-address"
	cborutil "github.com/filecoin-project/go-cbor-util"
	"github.com/filecoin-project/go-fil-markets/storagemarket"
	"github.com/filecoin-project/go-fil-markets/storagemarket/network"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/filecoin-project/go-state-types/big"
	"github.com/filecoin-project/go-state-types/builtin/v9/market"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// droplet-client's start buffer: eight days of epochs.
const startBuffer = 8 * 2880

func main() {
	peerutil.UseTestnet()
	if len(os.Args) < 2 {
		fail("usage: client ask|propose|status [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	nodeURL := fs.String("node", "", "full node JSON-RPC URL (http://host:port/rpc/v1)")
	token := fs.String("token", "", "full node token")
	minerStr := fs.String("miner", "", "miner actor address")
	key := fs.String("key", "", "client key, as `lotus wallet export` prints it")
	version := fs.String("version", "", "protocol version to speak")
	piece := fs.String("piece", "", "piece CID")
	pieceSize := fs.Uint64("piece-size", 0, "padded piece size")
	root := fs.String("root", "", "payload root CID")
	duration := fs.Int64("duration", 180*2880, "deal duration in epochs")
	pricePerEpoch := fs.String("price-per-epoch", "0", "storage price per epoch, attoFIL")
	proposalStr := fs.String("proposal", "", "proposal CID (status)")
	_ = fs.Parse(args)

	node := peerutil.Node{URL: *nodeURL, Token: *token}
	miner, err := address.NewFromString(*minerStr)
	check(err, "miner address")
	info, err := node.MinerInfo(miner)
	check(err, "reading the miner from chain")
	h, err := libp2p.New(libp2p.NoListenAddrs)
	check(err, "libp2p host")
	defer h.Close()
	pid, err := peer.Decode(info.PeerID)
	check(err, "the miner's peer ID on chain")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	check(h.Connect(ctx, peer.AddrInfo{ID: pid, Addrs: info.Multiaddrs}), "connecting to the provider")
	only := []protocol.ID{}

	switch cmd {
	case "ask":
		only = append(only, protocol.ID("/fil/storage/ask/"+*version))
		net := network.NewFromLibp2pHost(h, network.SupportedAskProtocols(only))
		s, err := net.NewAskStream(ctx, pid)
		check(err, "opening the ask stream")
		defer s.Close()
		check(s.WriteAskRequest(network.AskRequest{Miner: miner}), "asking")
		resp, signed, err := s.ReadAskResponse()
		check(err, "reading the ask")
		if resp.Ask == nil || resp.Ask.Ask == nil {
			fail("the provider answered without an ask")
		}
		check(peerutil.Verify(resp.Ask.Signature, info.WorkerKey, signed), "the ask's signature")
		printJSON(map[string]any{"Ask": resp.Ask.Ask, "SignatureVerified": true, "SignatureType": resp.Ask.Signature.Type})
	case "propose":
		w, err := peerutil.ImportKey(*key)
		check(err, "client key")
		head, err := node.Head()
		check(err, "chain head")
		minColl, _, err := node.CollateralBounds(abi.PaddedPieceSize(*pieceSize), false)
		check(err, "collateral bounds")
		price, err := big.FromString(*pricePerEpoch)
		check(err, "price")
		pieceCid, err := cid.Parse(*piece)
		check(err, "piece CID")
		rootCid, err := cid.Parse(*root)
		check(err, "root CID")
		label, err := market.NewLabelFromString(rootCid.String())
		check(err, "label")
		start := head + startBuffer
		proposal := market.DealProposal{
			PieceCID:             pieceCid,
			PieceSize:            abi.PaddedPieceSize(*pieceSize),
			Client:               w.Address,
			Provider:             miner,
			Label:                label,
			StartEpoch:           start,
			EndEpoch:             start + abi.ChainEpoch(*duration),
			StoragePricePerEpoch: price,
			ProviderCollateral:   big.Div(big.Mul(minColl, big.NewInt(12)), big.NewInt(10)),
			ClientCollateral:     big.Zero(),
		}
		buf, err := cborutil.Dump(&proposal)
		check(err, "encoding the proposal")
		sig, err := w.Sign(buf)
		check(err, "signing the proposal")
		cdp := market.ClientDealProposal{Proposal: proposal, ClientSignature: sig}
		only = append(only, protocol.ID("/fil/storage/mk/"+*version))
		net := network.NewFromLibp2pHost(h, network.SupportedDealProtocols(only))
		s, err := net.NewDealStream(ctx, pid)
		check(err, "opening the deal stream")
		defer s.Close()
		ref := &storagemarket.DataRef{
			TransferType: storagemarket.TTManual,
			Root:         rootCid,
			PieceCid:     &pieceCid,
			PieceSize:    abi.PaddedPieceSize(*pieceSize).Unpadded(),
		}
		check(s.WriteDealProposal(network.Proposal{DealProposal: &cdp, Piece: ref, FastRetrieval: true}), "proposing")
		resp, signed, err := s.ReadDealResponse()
		check(err, "reading the answer")
		check(peerutil.Verify(resp.Signature, info.WorkerKey, signed), "the answer's signature")
		proposalCid, err := cborutil.AsIpld(&cdp)
		check(err, "proposal CID")
		printJSON(map[string]any{
			"Response":          resp.Response,
			"SignatureVerified": true,
			"ProposalCid":       proposalCid.Cid().String(),
		})
	case "status":
		w, err := peerutil.ImportKey(*key)
		check(err, "client key")
		proposalCid, err := cid.Parse(*proposalStr)
		check(err, "proposal CID")
		signedCid, err := cborutil.Dump(&proposalCid)
		check(err, "encoding the CID")
		sig, err := w.Sign(signedCid)
		check(err, "signing the request")
		only = append(only, protocol.ID("/fil/storage/status/"+*version))
		net := network.NewFromLibp2pHost(h, network.SupportedDealStatusProtocols(only))
		s, err := net.NewDealStatusStream(ctx, pid)
		check(err, "opening the status stream")
		defer s.Close()
		check(s.WriteDealStatusRequest(network.DealStatusRequest{Proposal: proposalCid, Signature: sig}), "asking")
		resp, signed, err := s.ReadDealStatusResponse()
		check(err, "reading the status")
		check(peerutil.Verify(&resp.Signature, info.WorkerKey, signed), "the status's signature")
		printJSON(map[string]any{"DealState": resp.DealState, "SignatureVerified": true})
	default:
		fail("unknown command " + cmd)
	}
}

func printJSON(v any) {
	out, err := json.Marshal(v)
	check(err, "printing")
	fmt.Println(string(out))
}

func check(err error, what string) {
	if err != nil {
		fail(what + ": " + err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "go-legacy-client:", msg)
	os.Exit(1)
}
