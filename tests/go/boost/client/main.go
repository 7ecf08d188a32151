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
	cborutil "github.com/filecoin-project/go-cbor-util"
	"github.com/filecoin-project/go-fil-markets/storagemarket/network"
	"github.com/filecoin-project/go-state-types/builtin/v9/market"
	"github.com/google/uuid"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/protocol"
	cbg "github.com/whyrusleeping/cbor-gen"
)

func main() {
	peerutil.UseTestnet()
	if len(os.Args) < 2 {
		peerutil.Fail("usage: client ask|propose|status|serve [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	f := peerutil.RegisterClientFlags(fs)
	proto := fs.String("protocol", "1.2.1", "deal protocol version: 1.2.0 or 1.2.1")
	fields := fs.Int("fields", 7, "DealParams fields: 5 (boost's DealParamsV120) or 7")
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := peerutil.Dial(ctx, f)
	peerutil.Check(err, "reaching the provider")
	defer p.Host.Close()

	switch cmd {
	case "ask":
		ask(ctx, p)
	case "propose":
		w, err := peerutil.ImportKey(*f.Key)
		peerutil.Check(err, "client key")
		cdp, err := p.Proposal(f, w)
		peerutil.Check(err, "the proposal")
		root, err := cid.Parse(*f.Root)
		peerutil.Check(err, "root CID")
		propose(ctx, p, *proto, *fields, cdp, root, transfer(*httpURL, *httpHeader, *transferSize))
	case "status":
		w, err := peerutil.ImportKey(*f.Key)
		peerutil.Check(err, "client key")
		id, err := uuid.Parse(*dealUUID)
		peerutil.Check(err, "deal UUID")
		status(ctx, p, w, id)
	default:
		peerutil.Fail("unknown command " + cmd)
	}
}

func ask(ctx context.Context, p peerutil.Provider) {
	var resp network.AskResponse
	exchange(ctx, p, "/fil/storage/ask/1.1.0", &network.AskRequest{Miner: p.Miner}, &resp)
	if resp.Ask == nil || resp.Ask.Ask == nil {
		peerutil.Fail("the provider answered without an ask")
	}
	a := resp.Ask.Ask
	signed, err := cborutil.Dump(a)
	peerutil.Check(err, "encoding the ask")
	peerutil.Check(peerutil.Verify(resp.Ask.Signature, p.Info.WorkerKey, signed), "the ask's signature")
	peerutil.Print(map[string]any{
		"Ask":               a,
		"SignatureType":     resp.Ask.Signature.Type,
		"SignatureVerified": true,
		"Worker":            p.Info.WorkerKey.String(),
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
			peerutil.Fail("--http-header is \"Name: value\"")
		}
		req.Headers = map[string]string{strings.TrimSpace(name): strings.TrimSpace(value)}
	}
	params, err := json.Marshal(req)
	peerutil.Check(err, "transfer params")
	return &types.Transfer{Type: "http", Params: params, Size: size}
}

func propose(ctx context.Context, p peerutil.Provider, version string, fields int, cdp market.ClientDealProposal, root cid.Cid, xfer *types.Transfer) {
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
		peerutil.Fail("--fields is 5 or 7")
	}
	var resp types.DealResponse
	exchange(ctx, p, protocol.ID("/fil/storage/mk/"+version), params, &resp)
	signedCid, err := cborutil.AsIpld(&cdp)
	peerutil.Check(err, "signed proposal CID")
	dealCid, err := cdp.Proposal.Cid()
	peerutil.Check(err, "deal proposal CID")
	peerutil.Print(map[string]any{
		"DealUUID":          id.String(),
		"Accepted":          resp.Accepted,
		"Message":           resp.Message,
		"SignedProposalCid": signedCid.Cid().String(),
		"DealProposalCid":   dealCid.String(),
		"Client":            cdp.Proposal.Client.String(),
	})
}

func status(ctx context.Context, p peerutil.Provider, w peerutil.Wallet, id uuid.UUID) {
	raw, err := id.MarshalBinary()
	peerutil.Check(err, "uuid")
	sig, err := w.Sign(raw)
	peerutil.Check(err, "signing the status request")
	var resp types.DealStatusResponse
	exchange(ctx, p, "/fil/storage/status/1.2.0", &types.DealStatusRequest{DealUUID: id, Signature: sig}, &resp)
	peerutil.Print(resp)
}

// exchange writes one request and reads one answer, as boost's DealClient does
// (cborutil.WriteCborRPC: the plain encoding, no length prefix).
func exchange(ctx context.Context, p peerutil.Provider, proto protocol.ID, req cbg.CBORMarshaler, resp cbg.CBORUnmarshaler) {
	s, err := p.Host.NewStream(ctx, p.Peer, proto)
	peerutil.Check(err, "opening "+string(proto))
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(60 * time.Second))
	peerutil.Check(cborutil.WriteCborRPC(s, req), "writing the request on "+string(proto))
	peerutil.Check(resp.UnmarshalCBOR(s), "reading the answer on "+string(proto))
}

// serve the CAR over HTTP on loopback with a bearer token, as a client hosting its own data;
// prints "URL TOKEN" and runs until killed.
func serve(path string) {
	if path == "" {
		peerutil.Fail("serve needs --car")
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	peerutil.Check(err, "listening")
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
	peerutil.Check(err, "serving")
}
