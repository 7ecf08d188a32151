// Command codec is the Go side of the encoding-agreement suite for the go-fil-markets stack:
// go-state-types deal proposals and vouchers, go-fil-markets' storage and retrieval messages
// (map and tuple forms), go-data-transfer's TransferMessage1_1 and go-graphsync's v2 message.
// Every value is decoded and re-encoded with the Go types themselves. See peerutil.Main.
package main

import (
	"bytes"
	"fmt"
	"io"

	"droplet-rs/tests/go/peerutil"

	cborutil "github.com/filecoin-project/go-cbor-util"
	message1_1 "github.com/filecoin-project/go-data-transfer/v2/message/message1_1prime"
	"github.com/filecoin-project/go-fil-markets/retrievalmarket"
	"github.com/filecoin-project/go-fil-markets/storagemarket"
	"github.com/filecoin-project/go-fil-markets/storagemarket/migrations"
	"github.com/filecoin-project/go-fil-markets/storagemarket/network"
	"github.com/filecoin-project/go-state-types/builtin/v9/market"
	"github.com/filecoin-project/go-state-types/builtin/v9/paych"
	"github.com/libp2p/go-libp2p/core/peer"
)

// transferMessage is go-data-transfer's TransferMessage1_1, read as its network code reads it
// (FromNet, which also refuses a message whose IsRq disagrees with its body).
func transferMessage() peerutil.Codec {
	return peerutil.Codec{
		RoundTrip: func(b []byte) ([]byte, error) {
			r := bytes.NewReader(b)
			msg, err := message1_1.FromNet(r)
			if err != nil {
				return nil, err
			}
			if r.Len() != 0 {
				return nil, fmt.Errorf("%d bytes left over", r.Len())
			}
			var out bytes.Buffer
			if err := msg.ToNet(&out); err != nil {
				return nil, fmt.Errorf("re-encoding: %w", err)
			}
			return out.Bytes(), nil
		},
		Generate: func(r *peerutil.Rand) ([]byte, bool) {
			// The request or response writes itself wrapped in TransferMessage1_1 (the
			// wrapper's own ToNet does not work in this version).
			var msg interface{ ToNet(w io.Writer) error }
			if r.Intn(2) == 0 || r.Mode == peerutil.Minimal {
				req := new(message1_1.TransferRequest1_1)
				r.Fill(req)
				msg = req
			} else {
				rsp := new(message1_1.TransferResponse1_1)
				r.Fill(rsp)
				msg = rsp
			}
			var out bytes.Buffer
			if err := msg.ToNet(&out); err != nil {
				return nil, false
			}
			return out.Bytes(), true
		},
	}
}

// proposalCid answers a ClientDealProposal with the bytes of cborutil.AsIpld(proposal).Cid().
func proposalCid() peerutil.Codec {
	return peerutil.Codec{
		RoundTrip: func(b []byte) ([]byte, error) {
			var cdp market.ClientDealProposal
			if err := cdp.UnmarshalCBOR(bytes.NewReader(b)); err != nil {
				return nil, err
			}
			nd, err := cborutil.AsIpld(&cdp)
			if err != nil {
				return nil, err
			}
			return nd.Cid().Bytes(), nil
		},
	}
}

func main() {
	codecs := map[string]peerutil.Codec{
		"chain::DealProposal":       peerutil.CborGen[market.DealProposal](),
		"chain::ClientDealProposal": peerutil.CborGen[market.ClientDealProposal](),
		"chain::SignedVoucher":      peerutil.CborGen[paych.SignedVoucher](),

		"storage::StorageAsk":           peerutil.CborGen[storagemarket.StorageAsk](),
		"storage::StorageAskV0":         peerutil.CborGen[migrations.StorageAsk0](),
		"storage::SignedStorageAsk":     peerutil.CborGen[storagemarket.SignedStorageAsk](),
		"storage::SignedStorageAskV0":   peerutil.CborGen[migrations.SignedStorageAsk0](),
		"storage::AskRequest":           peerutil.CborGen[network.AskRequest](),
		"storage::AskRequestV0":         peerutil.CborGen[migrations.AskRequest0](),
		"storage::AskResponse":          peerutil.CborGen[network.AskResponse](),
		"storage::AskResponseV0":        peerutil.CborGen[migrations.AskResponse0](),
		"storage::DataRef":              peerutil.CborGen[storagemarket.DataRef](),
		"storage::DataRefV0":            peerutil.CborGen[migrations.DataRef0](),
		"storage::Proposal":             peerutil.CborGen[network.Proposal](),
		"storage::ProposalV0":           peerutil.CborGen[migrations.Proposal0](),
		"storage::Response":             peerutil.CborGen[network.Response](),
		"storage::ResponseV0":           peerutil.CborGen[migrations.Response0](),
		"storage::SignedResponse":       peerutil.CborGen[network.SignedResponse](),
		"storage::SignedResponseV0":     peerutil.CborGen[migrations.SignedResponse0](),
		"storage::DealStatusRequest":    peerutil.CborGen[network.DealStatusRequest](),
		"storage::DealStatusRequestV0":  peerutil.CborGen[migrations.DealStatusRequest0](),
		"storage::ProviderDealState":    peerutil.CborGen[storagemarket.ProviderDealState](),
		"storage::ProviderDealStateV0":  peerutil.CborGen[migrations.ProviderDealState0](),
		"storage::DealStatusResponse":   peerutil.CborGen[network.DealStatusResponse](),
		"storage::DealStatusResponseV0": peerutil.CborGen[migrations.DealStatusResponse0](),

		"retrieval::QueryParams":           peerutil.CborGen[retrievalmarket.QueryParams](),
		"retrieval::Query":                 peerutil.CborGen[retrievalmarket.Query](),
		"retrieval::QueryResponse":         peerutil.CborGen[retrievalmarket.QueryResponse](),
		"retrieval::RetrievalParams":       peerutil.CborGen[retrievalmarket.Params](),
		"retrieval::RetrievalDealProposal": peerutil.CborGen[retrievalmarket.DealProposal](),
		"retrieval::RetrievalDealResponse": peerutil.CborGen[retrievalmarket.DealResponse](),
		"retrieval::RetrievalDealPayment":  peerutil.CborGen[retrievalmarket.DealPayment](),

		// Not a round trip: the proposal CID go-fil-markets and boost name the proposal by.
		"proposal_cid::ClientDealProposal": proposalCid(),

		"datatransfer::TransferMessage": transferMessage(),
		"graphsync::Message":            graphsyncMessage(),
	}
	peerutil.Main(codecs, func(r *peerutil.Rand) {
		// Peer IDs are raw multihash bytes in Go strings, often not UTF-8.
		r.Hook(peer.ID(""), func(r *peerutil.Rand) any {
			if r.Mode == peerutil.Minimal {
				return peer.ID("")
			}
			return peer.ID(r.Fixed(r.Intn(39)))
		})
	})
}
