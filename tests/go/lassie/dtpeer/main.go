// go-data-transfer-peer: a real go-data-transfer v2 (lassie's pin, over go-graphsync v0.18) for
// the interop suite's pull channels with a metered voucher scheme:
//
//	voucher "Test/Voucher" = an int n; result "Test/Result" = an int.
//	The proposal is voucher 0; the responder lets STEP bytes through, pauses, and each voucher n
//	raises the limit to (n+1)*STEP.
//
//	go-data-transfer-peer serve <dag.car> <step>
//	    serves the CAR on 127.0.0.1 with that validator; prints "LISTEN <multiaddr>/p2p/<id>" and
//	    one "EVENT <name>" line per data-transfer event; runs until SIGTERM.
//	go-data-transfer-peer push <multiaddr/p2p/id> <dag.car>
//	    pushes the CAR's DAG (its first root, all-selector) with voucher 0; prints "DONE" once
//	    the receiver has completed the channel.
//	    (serve also accepts pushes with voucher 0 and prints "RECEIVED <n> blocks" per push.)
//	go-data-transfer-peer fetch <multiaddr/p2p/id> <root cid>
//	    pulls the DAG with the all-selector, sending voucher n each time the responder pauses (the
//	    n-th pause; go-data-transfer reports each pause twice, counted once);
//	    prints "PAUSES <n>", "RECEIVED <bytes>", "RESULT <last result>" and "DONE", or "ERROR ...".
package main

import (
	"droplet-rs/tests/go/lassie/peerkit"

	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	datatransfer "github.com/filecoin-project/go-data-transfer/v2"
	dtimpl "github.com/filecoin-project/go-data-transfer/v2/impl"
	dtnet "github.com/filecoin-project/go-data-transfer/v2/network"
	gstransport "github.com/filecoin-project/go-data-transfer/v2/transport/graphsync"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	gsimpl "github.com/ipfs/go-graphsync/impl"
	gsnet "github.com/ipfs/go-graphsync/network"
	_ "github.com/ipld/go-codec-dagpb"
	_ "github.com/ipld/go-ipld-prime/codec/raw"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/storage/memstore"
	selectorparse "github.com/ipld/go-ipld-prime/traversal/selector/parse"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

const voucherType = datatransfer.TypeIdentifier("Test/Voucher")
const resultType = datatransfer.TypeIdentifier("Test/Result")

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: go-data-transfer-peer serve <car> <step> | fetch <addr> <root>")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		step, perr := strconv.ParseUint(os.Args[3], 10, 64)
		if perr != nil {
			err = perr
			break
		}
		err = serve(os.Args[2], step)
	case "fetch":
		err = fetch(os.Args[2], os.Args[3])
	case "push":
		err = push(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Printf("ERROR %s\n", err)
		os.Exit(1)
	}
}

func intNode(n int64) datamodel.Node { return basicnode.NewInt(n) }

func typed(t datatransfer.TypeIdentifier, n int64) *datatransfer.TypedVoucher {
	return &datatransfer.TypedVoucher{Type: t, Voucher: intNode(n)}
}

func newDataTransfer(ctx context.Context, h host.Host, store *memstore.Store) (datatransfer.Manager, error) {
	lsys := cidlink.DefaultLinkSystem()
	lsys.SetReadStorage(store)
	lsys.SetWriteStorage(store)
	gs := gsimpl.New(ctx, gsnet.NewFromLibp2pHost(h), lsys)
	tp := gstransport.NewTransport(h.ID(), gs)
	dt, err := dtimpl.NewDataTransfer(dssync.MutexWrap(datastore.NewMapDatastore()), dtnet.NewFromLibp2pHost(h), tp)
	if err != nil {
		return nil, err
	}
	ready := make(chan error, 1)
	dt.OnReady(func(err error) { ready <- err })
	if err := dt.Start(ctx); err != nil {
		return nil, err
	}
	if err := <-ready; err != nil {
		return nil, err
	}
	return dt, nil
}

// metered accepts voucher 0 as a proposal and lets step bytes through per voucher.
type metered struct{ step uint64 }

// ValidatePush takes pushes proposed with voucher 0.
func (m metered) ValidatePush(_ datatransfer.ChannelID, _ peer.ID, voucher datamodel.Node, _ cid.Cid, _ datamodel.Node) (datatransfer.ValidationResult, error) {
	n, err := voucher.AsInt()
	if err != nil || n != 0 {
		return datatransfer.ValidationResult{Accepted: false, VoucherResult: typed(resultType, -1)}, nil
	}
	return datatransfer.ValidationResult{Accepted: true, VoucherResult: typed(resultType, 0)}, nil
}

func (m metered) ValidatePull(_ datatransfer.ChannelID, _ peer.ID, voucher datamodel.Node, _ cid.Cid, _ datamodel.Node) (datatransfer.ValidationResult, error) {
	n, err := voucher.AsInt()
	if err != nil || n != 0 {
		return datatransfer.ValidationResult{Accepted: false, VoucherResult: typed(resultType, -1)}, nil
	}
	return datatransfer.ValidationResult{Accepted: true, VoucherResult: typed(resultType, 0), DataLimit: m.step}, nil
}

func (m metered) ValidateRestart(datatransfer.ChannelID, datatransfer.ChannelState) (datatransfer.ValidationResult, error) {
	return datatransfer.ValidationResult{Accepted: true, DataLimit: 0}, nil
}

func serve(carPath string, step uint64) error {
	ctx := context.Background()
	store := &memstore.Store{}
	if _, err := peerkit.LoadCar(ctx, carPath, store); err != nil {
		return err
	}
	h, err := peerkit.Host()
	if err != nil {
		return err
	}
	dt, err := newDataTransfer(ctx, h, store)
	if err != nil {
		return err
	}
	if err := dt.RegisterVoucherType(voucherType, metered{step}); err != nil {
		return err
	}
	var mu sync.Mutex
	dt.SubscribeToEvents(func(ev datatransfer.Event, st datatransfer.ChannelState) {
		mu.Lock()
		fmt.Printf("EVENT %s\n", datatransfer.Events[ev.Code])
		mu.Unlock()
		if ev.Code != datatransfer.NewVoucher {
			return
		}
		n, err := st.LastVoucher().Voucher.AsInt()
		if err != nil {
			return
		}
		go func() {
			_ = dt.UpdateValidationStatus(ctx, st.ChannelID(), datatransfer.ValidationResult{
				Accepted:      true,
				VoucherResult: typed(resultType, n),
				DataLimit:     uint64(n+1) * step,
			})
		}()
	})
	fmt.Printf("LISTEN %s/p2p/%s\n", h.Addrs()[0], h.ID())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	return h.Close()
}

func push(addr, carPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store := &memstore.Store{}
	root, err := peerkit.LoadCar(ctx, carPath, store)
	if err != nil {
		return err
	}
	h, receiver, err := peerkit.Connected(ctx, addr)
	if err != nil {
		return err
	}
	defer h.Close()
	dt, err := newDataTransfer(ctx, h, store)
	if err != nil {
		return err
	}
	if err := dt.RegisterVoucherType(voucherType, metered{}); err != nil {
		return err
	}
	done := make(chan error, 1)
	dt.SubscribeToEvents(func(ev datatransfer.Event, st datatransfer.ChannelState) {
		signalEnd(done, st)
	})
	sel := selectorparse.CommonSelector_ExploreAllRecursively
	if _, err := dt.OpenPushDataChannel(ctx, receiver, *typed(voucherType, 0), root, sel); err != nil {
		return err
	}
	if err := waitEnd(ctx, done); err != nil {
		return err
	}
	fmt.Println("DONE")
	return nil
}

func fetch(addr, root string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rootCid, err := cid.Decode(root)
	if err != nil {
		return err
	}
	h, provider, err := peerkit.Connected(ctx, addr)
	if err != nil {
		return err
	}
	defer h.Close()
	dt, err := newDataTransfer(ctx, h, &memstore.Store{})
	if err != nil {
		return err
	}
	if err := dt.RegisterVoucherType(voucherType, metered{}); err != nil {
		return err
	}
	done := make(chan error, 1)
	var pauses int64
	var paused bool
	var lastResult int64 = -1
	var received uint64
	dt.SubscribeToEvents(func(ev datatransfer.Event, st datatransfer.ChannelState) {
		switch ev.Code {
		case datatransfer.ResumeResponder:
			paused = false
		case datatransfer.PauseResponder:
			// go-data-transfer reads a pause under both extension names and fires this twice.
			if paused {
				return
			}
			paused = true
			pauses++
			n := pauses
			chid := st.ChannelID()
			go func() { _ = dt.SendVoucher(ctx, chid, *typed(voucherType, n)) }()
		case datatransfer.NewVoucherResult:
			if r, err := st.LastVoucherResult().Voucher.AsInt(); err == nil {
				lastResult = r
			}
		}
		received = st.Received()
		signalEnd(done, st)
	})
	sel := selectorparse.CommonSelector_ExploreAllRecursively
	if _, err := dt.OpenPullDataChannel(ctx, provider, *typed(voucherType, 0), rootCid, sel); err != nil {
		return err
	}
	if err := waitEnd(ctx, done); err != nil {
		return err
	}
	fmt.Printf("PAUSES %d\nRECEIVED %d\nRESULT %d\nDONE\n", pauses, received, lastResult)
	return nil
}

// signalEnd reports a channel's end on done (once): nil when completed, else why not.
func signalEnd(done chan<- error, st datatransfer.ChannelState) {
	var end error
	switch st.Status() {
	case datatransfer.Completed:
	case datatransfer.Failed, datatransfer.Cancelled:
		end = fmt.Errorf("channel %s: %s", datatransfer.Statuses[st.Status()], st.Message())
	default:
		return
	}
	select {
	case done <- end:
	default:
	}
}

// waitEnd waits for the channel's end or the deadline.
func waitEnd(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
