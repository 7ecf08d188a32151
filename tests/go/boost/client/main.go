// Command client is a boost-style storage client built on boost's own storagemarket/types and
// go-libp2p, as boost's `boost deal` and the Go droplet-client talk to a provider:
//
//	client ask     --node URL --token T --miner ID
//	client propose --node URL --token T --miner ID --key HEX --protocol 1.2.0|1.2.1 --fields 5|7
//	               --piece CID --piece-size N --root CID --duration EPOCHS --price-per-epoch ATTO
//	               [--http-url URL --http-header "Name: value" --transfer-size N]
//	client status  --node URL --token T --miner ID --key HEX --deal-uuid UUID
//	client serve   --car PATH
//
// The miner's peer, addresses and worker key come from chain state (StateMinerInfo), as boost
// reads them from its gateway. Every answer is printed as one JSON object on stdout; a
// signature that does not verify, a refused stream or a malformed answer exits non-zero.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"droplet-rs/tests/go/peerutil"

	"github.com/filecoin-project/boost/storagemarket/types"
	transporttypes "github.com/filecoin-project/boost/transport/types"
	"github.com/filecoin-project/go-address"
	cborutil "github.com/filecoin-project/go-cbor-util"
	"github.com/filecoin-project/go-fil-markets/storagemarket/network"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/filecoin-project/go-state-types/big"
	"github.com/filecoin-project/go-state-types/builtin/v9/market"
	"github.com/google/uuid"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	cbg "github.com/whyrusleeping/cbor-gen"
)

// droplet-client's start buffer: eight days of epochs.
const startBuffer = 8 * 2880

func main() {
	peerutil.UseTestnet()
	if len(os.Args) < 2 {
		fail("usage: client ask|propose|status|serve [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	nodeURL := fs.String("node", "", "full node JSON-RPC URL (http://host:port/rpc/v1)")
	token := fs.String("token", "", "full node token")
	minerStr := fs.String("miner", "", "miner actor address")
	key := fs.String("key", "", "client key, as `lotus wallet export` prints it")
	proto := fs.String("protocol", "1.2.1", "deal protocol version: 1.2.0 or 1.2.1")
	fields := fs.Int("fields", 7, "DealParams fields: 5 (boost's DealParamsV120) or 7")
	piece := fs.String("piece", "", "piece CID")
	pieceSize := fs.Uint64("piece-size", 0, "padded piece size")
	root := fs.String("root", "", "payload root CID")
	duration := fs.Int64("duration", 180*2880, "deal duration in epochs")
	pricePerEpoch := fs.String("price-per-epoch", "0", "storage price per epoch, attoFIL")
	httpURL := fs.String("http-url", "", "online deal: where the provider downloads the CAR")
	httpHeader := fs.String("http-header", "", "online deal: one header, \"Name: value\"")
	transferSize := fs.Uint64("transfer-size", 0, "online deal: CAR size in bytes")
	dealUUID := fs.String("deal-uuid", "", "deal UUID")
	car := fs.String("car", "", "serve: the CAR file")
	_ = fs.Parse(args)

	if cmd == "serve" {
		serve(*car)
		return
	}
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

	switch cmd {
	case "ask":
		ask(ctx, h, pid, miner, info)
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
			VerifiedDeal:         false,
			Client:               w.Address,
			Provider:             miner,
			Label:                label,
			StartEpoch:           start,
			EndEpoch:             start + abi.ChainEpoch(*duration),
			StoragePricePerEpoch: price,
			// droplet-client's overestimate: the minimum plus 20 %.
			ProviderCollateral: big.Div(big.Mul(minColl, big.NewInt(12)), big.NewInt(10)),
			ClientCollateral:   big.Zero(),
		}
		buf, err := cborutil.Dump(&proposal)
		check(err, "encoding the proposal")
		sig, err := w.Sign(buf)
		check(err, "signing the proposal")
		cdp := market.ClientDealProposal{Proposal: proposal, ClientSignature: sig}
		propose(ctx, h, pid, *proto, *fields, cdp, rootCid, transfer(*httpURL, *httpHeader, *transferSize))
	case "status":
		w, err := peerutil.ImportKey(*key)
		check(err, "client key")
		id, err := uuid.Parse(*dealUUID)
		check(err, "deal UUID")
		status(ctx, h, pid, w, id)
	default:
		fail("unknown command " + cmd)
	}
}

func ask(ctx context.Context, h host.Host, pid peer.ID, miner address.Address, info peerutil.Miner) {
	var resp network.AskResponse
	exchange(ctx, h, pid, "/fil/storage/ask/1.1.0", &network.AskRequest{Miner: miner}, &resp)
	if resp.Ask == nil || resp.Ask.Ask == nil {
		fail("the provider answered without an ask")
	}
	a := resp.Ask.Ask
	signed, err := cborutil.Dump(a)
	check(err, "encoding the ask")
	check(peerutil.Verify(resp.Ask.Signature, info.WorkerKey, signed), "the ask's signature")
	printJSON(map[string]any{
		"Ask":               a,
		"SignatureType":     resp.Ask.Signature.Type,
		"SignatureVerified": true,
		"Worker":            info.WorkerKey.String(),
	})
}

func transfer(url, header string, size uint64) *types.Transfer {
	if url == "" {
		return nil
	}
	req := transporttypes.HttpRequest{URL: url}
	if header != "" {
		name, value, ok := strings.Cut(header, ":")
		if !ok {
			fail("--http-header is \"Name: value\"")
		}
		req.Headers = map[string]string{strings.TrimSpace(name): strings.TrimSpace(value)}
	}
	params, err := json.Marshal(req)
	check(err, "transfer params")
	return &types.Transfer{Type: "http", Params: params, Size: size}
}

func propose(ctx context.Context, h host.Host, pid peer.ID, version string, fields int, cdp market.ClientDealProposal, root cid.Cid, xfer *types.Transfer) {
	id := uuid.New()
	offline := xfer == nil
	if offline {
		xfer = &types.Transfer{}
	}
	var params cbg.CBORMarshaler
	switch fields {
	case 5:
		params = &types.DealParamsV120{DealUUID: id, IsOffline: offline, ClientDealProposal: cdp, DealDataRoot: root, Transfer: *xfer}
	case 7:
		params = &types.DealParams{DealUUID: id, IsOffline: offline, ClientDealProposal: cdp, DealDataRoot: root, Transfer: *xfer}
	default:
		fail("--fields is 5 or 7")
	}
	var resp types.DealResponse
	exchange(ctx, h, pid, protocol.ID("/fil/storage/mk/"+version), params, &resp)
	signedCid, err := cborutil.AsIpld(&cdp)
	check(err, "signed proposal CID")
	dealCid, err := cdp.Proposal.Cid()
	check(err, "deal proposal CID")
	printJSON(map[string]any{
		"DealUUID":          id.String(),
		"Accepted":          resp.Accepted,
		"Message":           resp.Message,
		"SignedProposalCid": signedCid.Cid().String(),
		"DealProposalCid":   dealCid.String(),
		"Client":            cdp.Proposal.Client.String(),
	})
}

func status(ctx context.Context, h host.Host, pid peer.ID, w peerutil.Wallet, id uuid.UUID) {
	raw, err := id.MarshalBinary()
	check(err, "uuid")
	sig, err := w.Sign(raw)
	check(err, "signing the status request")
	var resp types.DealStatusResponse
	exchange(ctx, h, pid, "/fil/storage/status/1.2.0", &types.DealStatusRequest{DealUUID: id, Signature: sig}, &resp)
	printJSON(resp)
}

// exchange writes one request and reads one answer, as boost's DealClient does
// (cborutil.WriteCborRPC: the plain encoding, no length prefix).
func exchange(ctx context.Context, h host.Host, pid peer.ID, proto protocol.ID, req cbg.CBORMarshaler, resp cbg.CBORUnmarshaler) {
	s, err := h.NewStream(ctx, pid, proto)
	check(err, "opening "+string(proto))
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(60 * time.Second))
	check(cborutil.WriteCborRPC(s, req), "writing the request on "+string(proto))
	check(resp.UnmarshalCBOR(s), "reading the answer on "+string(proto))
}

// serve the CAR over HTTP on loopback with a bearer token, as a client hosting its own data;
// prints "URL TOKEN" and runs until killed.
func serve(path string) {
	if path == "" {
		fail("serve needs --car")
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err, "listening")
	fmt.Printf("http://%s/data.car %s\n", l.Addr(), token)
	_ = os.Stdout.Sync()
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.ServeContent(w, r, "data.car", st.ModTime(), f)
	}))
	check(err, "serving")
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
	fmt.Fprintln(os.Stderr, "go-boost-client:", msg)
	os.Exit(1)
}
