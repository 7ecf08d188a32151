// go-graphsync-peer: a real go-graphsync (the version lassie pins) for the interop suite.
//
//	go-graphsync-peer serve <dag.car>
//	    serves the CAR's blocks on 127.0.0.1 (graphsync accepts every request, as go-graphsync
//	    does by default); prints "LISTEN <multiaddr>/p2p/<id>"; runs until SIGTERM.
//	go-graphsync-peer fetch <multiaddr/p2p/id> <root cid> <selector as dag-cbor hex> [discard]
//	    requests the DAG with go-graphsync's own verification; prints "BLOCK <cid> <size>"
//	    for each block the traversal loads, in order, then "ELAPSED <s>", "CPU <s>" and "DONE",
//	    or "ERROR <message>".
package main

import (
	"droplet-rs/tests/go/lassie/peerkit"

	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-graphsync"
	gsimpl "github.com/ipfs/go-graphsync/impl"
	gsnet "github.com/ipfs/go-graphsync/network"
	"github.com/ipfs/go-unixfsnode"
	_ "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	_ "github.com/ipld/go-ipld-prime/codec/raw"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/storage/memstore"
	"github.com/libp2p/go-libp2p/core/peer"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: go-graphsync-peer serve <car> | fetch <addr> <root> <selector-hex>")
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "fetch":
		err = fetch(os.Args[2], os.Args[3], os.Args[4], len(os.Args) > 5 && os.Args[5] == "discard")
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Printf("ERROR %s\n", err)
		os.Exit(1)
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(2)
}

func linkSystem(store *memstore.Store) ipld.LinkSystem {
	lsys := cidlink.DefaultLinkSystem()
	lsys.SetReadStorage(store)
	lsys.SetWriteStorage(store)
	// The unixfs and unixfs-preload ADLs, for explore-interpret-as (lassie's path selectors).
	unixfsnode.AddUnixFSReificationToLinkSystem(&lsys)
	return lsys
}

func serve(carPath string) error {
	ctx := context.Background()
	store := &memstore.Store{}
	if _, err := peerkit.LoadCar(ctx, carPath, store); err != nil {
		return err
	}
	h, err := peerkit.Host()
	if err != nil {
		return err
	}
	gs := gsimpl.New(ctx, gsnet.NewFromLibp2pHost(h), linkSystem(store))
	gs.RegisterIncomingRequestHook(func(p peer.ID, r graphsync.RequestData, actions graphsync.IncomingRequestHookActions) {
		actions.ValidateRequest()
	})
	fmt.Printf("LISTEN %s/p2p/%s\n", h.Addrs()[0], h.ID())
	// Run until stopped.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	fmt.Printf("CPU %f\n", cpuSeconds())
	return h.Close()
}

// discardStore keeps nothing: for throughput runs over DAGs without repeated blocks, where a
// verified block is not needed again (as a requester writing to disk frees its memory).
type discardStore struct{}

func (discardStore) Has(context.Context, string) (bool, error) { return false, nil }
func (discardStore) Put(context.Context, string, []byte) error { return nil }

func fetch(addr, root, selHex string, discard bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rootCid, err := cid.Decode(root)
	if err != nil {
		return err
	}
	selBytes, err := hex.DecodeString(selHex)
	if err != nil {
		return err
	}
	sel, err := ipld.DecodeUsingPrototype(selBytes, dagcbor.Decode, basicnode.Prototype.Any)
	if err != nil {
		return err
	}
	h, server, err := peerkit.Connected(ctx, addr)
	if err != nil {
		return err
	}
	defer h.Close()
	store := &memstore.Store{}
	lsys := linkSystem(store)
	if discard {
		lsys.SetWriteStorage(discardStore{})
	}
	gs := gsimpl.New(ctx, gsnet.NewFromLibp2pHost(h), lsys)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	gs.RegisterIncomingBlockHook(func(p peer.ID, _ graphsync.ResponseData, b graphsync.BlockData, _ graphsync.IncomingBlockHookActions) {
		fmt.Fprintf(out, "BLOCK %s %d\n", b.Link(), b.BlockSizeOnWire())
	})
	start := time.Now()
	progress, errs := gs.Request(ctx, server, cidlink.Link{Cid: rootCid}, sel)
	var failures []error
	for progress != nil || errs != nil {
		select {
		case _, ok := <-progress:
			if !ok {
				progress = nil
			}
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			failures = append(failures, e)
		}
	}
	if len(failures) > 0 {
		out.Flush()
		return fmt.Errorf("%v", failures)
	}
	fmt.Fprintf(out, "ELAPSED %f\nCPU %f\n", time.Since(start).Seconds(), cpuSeconds())
	fmt.Fprintln(out, "DONE")
	return nil
}

// cpuSeconds is the user and system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
