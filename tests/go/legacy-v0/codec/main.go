// Command codec is the Go side of the encoding-agreement suite for the retrieval market's
// legacy tuple forms (/fil/retrieval/qry/0.0.1 and the unversioned voucher names), which
// go-fil-markets kept in retrievalmarket/migrations until v1.25. See peerutil.Main.
package main

import (
	"droplet-rs/tests/go/peerutil"

	"github.com/filecoin-project/go-fil-markets/retrievalmarket/migrations"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	cbg "github.com/whyrusleeping/cbor-gen"
)

func main() {
	peerutil.Main(map[string]peerutil.Codec{
		"retrieval::QueryParamsV0":           peerutil.CborGen[migrations.QueryParams0](),
		"retrieval::QueryV0":                 peerutil.CborGen[migrations.Query0](),
		"retrieval::QueryResponseV0":         peerutil.CborGen[migrations.QueryResponse0](),
		"retrieval::RetrievalParamsV0":       peerutil.CborGen[migrations.Params0](),
		"retrieval::RetrievalDealProposalV0": peerutil.CborGen[migrations.DealProposal0](),
		"retrieval::RetrievalDealResponseV0": peerutil.CborGen[migrations.DealResponse0](),
		"retrieval::RetrievalDealPaymentV0":  peerutil.CborGen[migrations.DealPayment0](),
	}, func(r *peerutil.Rand) {
		// A selector travels as raw CBOR here: make it a real encoded IPLD node.
		r.Hook(cbg.Deferred{}, func(r *peerutil.Rand) any {
			raw, err := ipld.Encode(r.NodeNotNull(0), dagcbor.Encode)
			if err != nil {
				panic(err)
			}
			return cbg.Deferred{Raw: raw}
		})
	})
}
