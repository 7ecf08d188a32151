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
	"flag"
	"os"
	"time"

	"droplet-rs/tests/go/peerutil"

	cborutil "github.com/filecoin-project/go-cbor-util"
	"github.com/filecoin-project/go-fil-markets/storagemarket"
	"github.com/filecoin-project/go-fil-markets/storagemarket/network"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/protocol"
)

func main() {
	peerutil.UseTestnet()
	if len(os.Args) < 2 {
		peerutil.Fail("usage: client ask|propose|status [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	f := peerutil.RegisterClientFlags(fs)
	version := fs.String("version", "", "protocol version to speak")
	proposalStr := fs.String("proposal", "", "proposal CID (status)")
	_ = fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := peerutil.Dial(ctx, f)
	peerutil.Check(err, "reaching the provider")
	defer p.Host.Close()
	h, pid, miner, info := p.Host, p.Peer, p.Miner, p.Info
	only := []protocol.ID{}

	switch cmd {
	case "ask":
		only = append(only, protocol.ID("/fil/storage/ask/"+*version))
		net := network.NewFromLibp2pHost(h, network.SupportedAskProtocols(only))
		s, err := net.NewAskStream(ctx, pid)
		peerutil.Check(err, "opening the ask stream")
		defer s.Close()
		peerutil.Check(s.WriteAskRequest(network.AskRequest{Miner: miner}), "asking")
		resp, signed, err := s.ReadAskResponse()
		peerutil.Check(err, "reading the ask")
		if resp.Ask == nil || resp.Ask.Ask == nil {
			peerutil.Fail("the provider answered without an ask")
		}
		peerutil.Check(peerutil.Verify(resp.Ask.Signature, info.WorkerKey, signed), "the ask's signature")
		peerutil.Print(map[string]any{"Ask": resp.Ask.Ask, "SignatureVerified": true, "SignatureType": resp.Ask.Signature.Type})
	case "propose":
		w, err := peerutil.ImportKey(*f.Key)
		peerutil.Check(err, "client key")
		cdp, err := p.Proposal(f, w)
		peerutil.Check(err, "the proposal")
		pieceCid, err := cid.Parse(*f.Piece)
		peerutil.Check(err, "piece CID")
		rootCid, err := cid.Parse(*f.Root)
		peerutil.Check(err, "root CID")
		only = append(only, protocol.ID("/fil/storage/mk/"+*version))
		net := network.NewFromLibp2pHost(h, network.SupportedDealProtocols(only))
		s, err := net.NewDealStream(ctx, pid)
		peerutil.Check(err, "opening the deal stream")
		defer s.Close()
		ref := &storagemarket.DataRef{
			TransferType: storagemarket.TTManual,
			Root:         rootCid,
			PieceCid:     &pieceCid,
			PieceSize:    abi.PaddedPieceSize(*f.PieceSize).Unpadded(),
		}
		peerutil.Check(s.WriteDealProposal(network.Proposal{DealProposal: &cdp, Piece: ref, FastRetrieval: true}), "proposing")
		resp, signed, err := s.ReadDealResponse()
		peerutil.Check(err, "reading the answer")
		peerutil.Check(peerutil.Verify(resp.Signature, info.WorkerKey, signed), "the answer's signature")
		proposalCid, err := cborutil.AsIpld(&cdp)
		peerutil.Check(err, "proposal CID")
		peerutil.Print(map[string]any{
			"Response":          resp.Response,
			"SignatureVerified": true,
			"ProposalCid":       proposalCid.Cid().String(),
		})
	case "status":
		w, err := peerutil.ImportKey(*f.Key)
		peerutil.Check(err, "client key")
		proposalCid, err := cid.Parse(*proposalStr)
		peerutil.Check(err, "proposal CID")
		signedCid, err := cborutil.Dump(&proposalCid)
		peerutil.Check(err, "encoding the CID")
		sig, err := w.Sign(signedCid)
		peerutil.Check(err, "signing the request")
		only = append(only, protocol.ID("/fil/storage/status/"+*version))
		net := network.NewFromLibp2pHost(h, network.SupportedDealStatusProtocols(only))
		s, err := net.NewDealStatusStream(ctx, pid)
		peerutil.Check(err, "opening the status stream")
		defer s.Close()
		peerutil.Check(s.WriteDealStatusRequest(network.DealStatusRequest{Proposal: proposalCid, Signature: sig}), "asking")
		resp, signed, err := s.ReadDealStatusResponse()
		peerutil.Check(err, "reading the status")
		peerutil.Check(peerutil.Verify(&resp.Signature, info.WorkerKey, signed), "the status's signature")
		peerutil.Print(map[string]any{"DealState": resp.DealState, "SignatureVerified": true})
	default:
		peerutil.Fail("unknown command " + cmd)
	}
}
