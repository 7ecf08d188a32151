// Command codec is the Go side of the encoding-agreement suite for boost's deal protocols:
// boost's own storagemarket/types (mk/1.2.x proposals in both field sets, responses, status)
// and the retrieval transports answer. See peerutil.Main.
package main

import (
	"fmt"

	"droplet-rs/tests/go/peerutil"

	transports "github.com/filecoin-project/boost/retrievalmarket/types"
	"github.com/filecoin-project/boost/storagemarket/types"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/multiformats/go-multiaddr"
)

// transportsResponse is the /fil/retrieval/transports/1.0.0 answer, a bindnode type whose
// addresses are multiaddrs (so they must parse).
func transportsResponse() peerutil.Codec {
	return peerutil.Codec{
		RoundTrip: func(b []byte) ([]byte, error) {
			v, err := transports.BindnodeRegistry.TypeFromBytes(b, (*transports.QueryResponse)(nil), dagcbor.Decode)
			if err != nil {
				return nil, err
			}
			return transports.BindnodeRegistry.TypeToBytes(v, dagcbor.Encode)
		},
		Generate: func(r *peerutil.Rand) ([]byte, bool) {
			var v transports.QueryResponse
			r.Fill(&v)
			b, err := transports.BindnodeRegistry.TypeToBytes(&v, dagcbor.Encode)
			return b, err == nil
		},
	}
}

func main() {
	codecs := map[string]peerutil.Codec{
		"boost::DealParams":              peerutil.CborGen[types.DealParams](),
		"boost::DealParamsV120":          peerutil.CborGen[types.DealParamsV120](),
		"boost::Transfer":                peerutil.CborGen[types.Transfer](),
		"boost::DealResponse":            peerutil.CborGen[types.DealResponse](),
		"boost::DealStatusRequest":       peerutil.CborGen[types.DealStatusRequest](),
		"boost::DealStatus":              peerutil.CborGen[types.DealStatus](),
		"boost::DealStatusResponse":      peerutil.CborGen[types.DealStatusResponse](),
		"boost::TransportsQueryResponse": transportsResponse(),
	}
	peerutil.Main(codecs, func(r *peerutil.Rand) {
		var ma multiaddr.Multiaddr
		r.HookType(&ma, func(r *peerutil.Rand) any { return randomMultiaddr(r) })
	})
}

// randomMultiaddr: the shapes a provider announces (TCP, QUIC, HTTP(S), with or without a
// peer ID).
func randomMultiaddr(r *peerutil.Rand) multiaddr.Multiaddr {
	forms := []string{
		"/ip4/127.0.0.1/tcp/%d",
		"/ip4/10.1.2.3/tcp/%d/http",
		"/ip6/::1/tcp/%d/https",
		"/dns4/provider.example/tcp/%d/ws",
		"/ip4/192.0.2.7/udp/%d/quic-v1",
		"/ip4/127.0.0.1/tcp/%d/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
	}
	ma, err := multiaddr.NewMultiaddr(fmt.Sprintf(forms[r.Intn(len(forms))], r.Intn(65536)))
	if err != nil {
		panic(err)
	}
	return ma
}
