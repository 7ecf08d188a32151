// Command codec is the Go side of the encoding-agreement suite for the retrieval market's
// legacy tuple forms (/fil/retrieval/qry/0.0.1 and the unversioned voucher names), which
// go-fil-markets kept in retrievalmarket/migrations until v1.25. See peerutil.Main.
package main

import (
	"bytes"
	"fmt"

	"droplet-rs/tests/go/peerutil"

	"github.com/filecoin-project/go-fil-markets/retrievalmarket/migrations"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	cbg "github.com/whyrusleeping/cbor-gen"
)

type cborValue interface {
	cbg.CBORMarshaler
	cbg.CBORUnmarshaler
}

func cborGen[T any, P interface {
	*T
	cborValue
}]() peerutil.Codec {
	return peerutil.Codec{
		RoundTrip: func(b []byte) ([]byte, error) {
			var v T
			r := bytes.NewReader(b)
			if err := P(&v).UnmarshalCBOR(r); err != nil {
				return nil, err
			}
			if r.Len() != 0 {
				return nil, fmt.Errorf("%d bytes left over", r.Len())
			}
			var out bytes.Buffer
			if err := P(&v).MarshalCBOR(&out); err != nil {
				return nil, fmt.Errorf("re-encoding: %w", err)
			}
			return out.Bytes(), nil
		},
		Generate: func(r *peerutil.Rand) ([]byte, bool) {
			var v T
			r.Fill(&v)
			var out bytes.Buffer
			if err := P(&v).MarshalCBOR(&out); err != nil {
				return nil, false
			}
			return out.Bytes(), true
		},
	}
}

func main() {
	peerutil.Main(map[string]peerutil.Codec{
		"retrieval::QueryParamsV0":           cborGen[migrations.QueryParams0](),
		"retrieval::QueryV0":                 cborGen[migrations.Query0](),
		"retrieval::QueryResponseV0":         cborGen[migrations.QueryResponse0](),
		"retrieval::RetrievalParamsV0":       cborGen[migrations.Params0](),
		"retrieval::RetrievalDealProposalV0": cborGen[migrations.DealProposal0](),
		"retrieval::RetrievalDealResponseV0": cborGen[migrations.DealResponse0](),
		"retrieval::RetrievalDealPaymentV0":  cborGen[migrations.DealPayment0](),
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
