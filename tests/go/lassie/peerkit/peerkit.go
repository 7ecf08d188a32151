// Package peerkit holds what the go-graphsync and go-data-transfer test peers share: a CAR
// loaded into a block store, a loopback host, and a host connected to a peer's address.
package peerkit

import (
	"context"
	"io"
	"os"

	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/storage/memstore"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// LoadCar puts every block of the CAR at path into store and returns its first root.
func LoadCar(ctx context.Context, path string, store *memstore.Store) (cid.Cid, error) {
	f, err := os.Open(path)
	if err != nil {
		return cid.Undef, err
	}
	defer f.Close()
	br, err := carv2.NewBlockReader(f)
	if err != nil {
		return cid.Undef, err
	}
	for {
		blk, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cid.Undef, err
		}
		if err := store.Put(ctx, cidlink.Link{Cid: blk.Cid()}.Binary(), blk.RawData()); err != nil {
			return cid.Undef, err
		}
	}
	return br.Roots[0], nil
}

// Host is a libp2p host listening on a loopback TCP port.
func Host() (host.Host, error) {
	return libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
}

// Connected is a new loopback host connected to the peer at addr (a multiaddr with /p2p/).
func Connected(ctx context.Context, addr string) (host.Host, peer.ID, error) {
	ma, err := multiaddr.NewMultiaddr(addr)
	if err != nil {
		return nil, "", err
	}
	info, err := peer.AddrInfoFromP2pAddr(ma)
	if err != nil {
		return nil, "", err
	}
	h, err := Host()
	if err != nil {
		return nil, "", err
	}
	if err := h.Connect(ctx, *info); err != nil {
		h.Close()
		return nil, "", err
	}
	return h, info.ID, nil
}
