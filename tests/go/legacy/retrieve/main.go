// Command retrieve is a go-fil-markets retrieval client (retrievalmarket/impl.NewClient, the
// client lotus shipped) making a paid retrieval over go-data-transfer and go-graphsync:
//
//	retrieve --node URL --token T --miner ID --key HEX --root CID --out FILE.car
//
// It queries the miner (/fil/retrieval/qry/1.0.0), proposes a deal on the terms the query
// answered, and pays every interval the provider asks for with vouchers on a real payment
// channel. Its node is a lotus full node reached over JSON-RPC, as lotus' retrieval client node
// is: the channel is created and funded with MpoolPushMessage (the node signs the message),
// vouchers are signed with the client's exported key. The blocks are written, in the order
// they arrived, to a CARv1 at --out; the deal's outcome is printed as one JSON object.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"droplet-rs/tests/go/legacy/gfm"
	"droplet-rs/tests/go/peerutil"

	"github.com/filecoin-project/go-address"
	dtimpl "github.com/filecoin-project/go-data-transfer/v2/impl"
	dtnet "github.com/filecoin-project/go-data-transfer/v2/network"
	dtgstransport "github.com/filecoin-project/go-data-transfer/v2/transport/graphsync"
	"github.com/filecoin-project/go-fil-markets/retrievalmarket"
	retrievalimpl "github.com/filecoin-project/go-fil-markets/retrievalmarket/impl"
	rmnet "github.com/filecoin-project/go-fil-markets/retrievalmarket/network"
	"github.com/filecoin-project/go-fil-markets/shared"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/filecoin-project/go-state-types/big"
	init8 "github.com/filecoin-project/go-state-types/builtin/v8/init"
	paychtypes "github.com/filecoin-project/go-state-types/builtin/v8/paych"
	bstore "github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dssync "github.com/ipfs/go-datastore/sync"
	gsimpl "github.com/ipfs/go-graphsync/impl"
	gsnet "github.com/ipfs/go-graphsync/network"
	car "github.com/ipld/go-car"
	carutil "github.com/ipld/go-car/util"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	selectorparse "github.com/ipld/go-ipld-prime/traversal/selector/parse"
	ma "github.com/multiformats/go-multiaddr"
)

func main() {
	peerutil.UseTestnet()
	fs := flag.NewFlagSet("retrieve", flag.ExitOnError)
	f := peerutil.RegisterClientFlags(fs)
	out := fs.String("out", "", "CAR file to write the retrieved blocks to")
	_ = fs.Parse(os.Args[1:])

	root, err := cid.Parse(*f.Root)
	peerutil.Check(err, "root CID")
	w, err := peerutil.ImportKey(*f.Key)
	peerutil.Check(err, "client key")

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	p, err := peerutil.Dial(ctx, f)
	peerutil.Check(err, "reaching the provider")
	defer p.Host.Close()

	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	gs := gsimpl.New(ctx, gsnet.NewFromLibp2pHost(p.Host), cidlink.DefaultLinkSystem())
	dt, err := dtimpl.NewDataTransfer(namespace.Wrap(ds, datastore.NewKey("/datatransfer")), dtnet.NewFromLibp2pHost(p.Host), dtgstransport.NewTransport(p.Host.ID(), gs))
	peerutil.Check(err, "data transfer")
	gfm.Ready(ctx, func(f shared.ReadyFunc) { dt.OnReady(gfm.DataTransferReady(f)) }, func() error { return dt.Start(ctx) })

	store := &orderedStore{Blockstore: bstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))}
	node := &chainNode{node: p.Node, wallet: w, miner: p.Info, lanes: map[address.Address]uint64{}, best: map[laneKey]paychtypes.SignedVoucher{}}
	clientDs := namespace.Wrap(ds, datastore.NewKey("/retrievals/client"))
	client, err := retrievalimpl.NewClient(rmnet.NewFromLibp2pHost(p.Host), dt, node, nil, clientDs, accessor{store})
	peerutil.Check(err, "retrieval client")
	gfm.Ready(ctx, client.OnReady, func() error { return client.Start(ctx) })

	rp := retrievalmarket.RetrievalPeer{Address: p.Miner, ID: p.Peer}
	q, err := client.Query(ctx, rp, root, retrievalmarket.QueryParams{})
	peerutil.Check(err, "querying the provider")
	if q.Status != retrievalmarket.QueryResponseAvailable {
		peerutil.Fail(fmt.Sprintf("the provider answered status %d: %s", q.Status, q.Message))
	}
	params, err := retrievalmarket.NewParamsV1(q.MinPricePerByte, q.MaxPaymentInterval, q.MaxPaymentIntervalIncrease,
		selectorparse.CommonSelector_ExploreAllRecursively, nil, q.UnsealPrice)
	peerutil.Check(err, "deal parameters")
	total := big.Add(big.Mul(q.MinPricePerByte, big.NewIntUnsigned(q.Size)), q.UnsealPrice)

	done := make(chan retrievalmarket.ClientDealState, 1)
	var mu sync.Mutex
	events := []string{}
	client.SubscribeToEvents(func(ev retrievalmarket.ClientEvent, st retrievalmarket.ClientDealState) {
		mu.Lock()
		events = append(events, retrievalmarket.ClientEvents[ev])
		mu.Unlock()
		switch st.Status {
		case retrievalmarket.DealStatusCompleted, retrievalmarket.DealStatusErrored,
			retrievalmarket.DealStatusCancelled, retrievalmarket.DealStatusRejected,
			retrievalmarket.DealStatusDealNotFound:
			select {
			case done <- st:
			default:
			}
		}
	})
	_, err = client.Retrieve(ctx, 0, root, params, total, rp, w.Address, q.PaymentAddress)
	peerutil.Check(err, "starting the retrieval")

	var st retrievalmarket.ClientDealState
	select {
	case st = <-done:
	case <-ctx.Done():
		peerutil.Fail("the retrieval did not end in time; events: " + fmt.Sprint(events))
	}
	if st.Status != retrievalmarket.DealStatusCompleted {
		peerutil.Fail(fmt.Sprintf("the retrieval ended %s: %s; events: %v",
			retrievalmarket.DealStatuses[st.Status], st.Message, events))
	}
	peerutil.Check(store.writeCar(*out, root), "writing the CAR")
	mu.Lock()
	defer mu.Unlock()
	peerutil.Print(map[string]any{
		"Status":         retrievalmarket.DealStatuses[st.Status],
		"TotalReceived":  st.TotalReceived,
		"FundsSpent":     st.FundsSpent.String(),
		"PaymentChannel": st.PaymentInfo.PayCh.String(),
		"Lane":           st.PaymentInfo.Lane,
		"Query": map[string]any{
			"Size":                       q.Size,
			"PaymentAddress":             q.PaymentAddress.String(),
			"MinPricePerByte":            q.MinPricePerByte.String(),
			"MaxPaymentInterval":         q.MaxPaymentInterval,
			"MaxPaymentIntervalIncrease": q.MaxPaymentIntervalIncrease,
			"UnsealPrice":                q.UnsealPrice.String(),
		},
		"Blocks": len(store.order),
		"Events": events,
	})
}

// orderedStore keeps the blocks and the order they were first stored in.
type orderedStore struct {
	bstore.Blockstore
	mu    sync.Mutex
	order []cid.Cid
}

func (s *orderedStore) Put(ctx context.Context, b blocks.Block) error {
	return s.PutMany(ctx, []blocks.Block{b})
}

func (s *orderedStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range bs {
		has, err := s.Blockstore.Has(ctx, b.Cid())
		if err != nil {
			return err
		}
		if !has {
			s.order = append(s.order, b.Cid())
		}
	}
	return s.Blockstore.PutMany(ctx, bs)
}

func (s *orderedStore) writeCar(path string, root cid.Cid) error {
	var buf bytes.Buffer
	if err := car.WriteHeader(&car.CarHeader{Roots: []cid.Cid{root}, Version: 1}, &buf); err != nil {
		return err
	}
	for _, c := range s.order {
		b, err := s.Blockstore.Get(context.Background(), c)
		if err != nil {
			return err
		}
		if err := carutil.LdWrite(&buf, c.Bytes(), b.RawData()); err != nil {
			return err
		}
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// accessor hands every deal the one store.
type accessor struct{ store *orderedStore }

func (a accessor) Get(retrievalmarket.DealID, retrievalmarket.PayloadCID) (bstore.Blockstore, error) {
	return a.store, nil
}
func (a accessor) Done(retrievalmarket.DealID) error { return nil }

type laneKey struct {
	ch   address.Address
	lane uint64
}

// chainNode is the retrieval client's node: a lotus full node over JSON-RPC and the client's
// key, with what lotus' payment channel manager keeps (lanes, each lane's best voucher, the
// channel's funds) in memory for this one process.
type chainNode struct {
	node   peerutil.Node
	wallet peerutil.Wallet
	miner  peerutil.Miner

	mu      sync.Mutex
	channel address.Address
	funds   abi.TokenAmount
	pending map[cid.Cid]abi.TokenAmount
	lanes   map[address.Address]uint64
	best    map[laneKey]paychtypes.SignedVoucher
}

var _ retrievalmarket.RetrievalClientNode = (*chainNode)(nil)

func (n *chainNode) GetChainHead(ctx context.Context) (shared.TipSetToken, abi.ChainEpoch, error) {
	var ts struct {
		Cids   []map[string]string
		Height abi.ChainEpoch
	}
	if err := n.node.Call("ChainHead", &ts); err != nil {
		return nil, 0, err
	}
	tok := []byte{}
	for _, c := range ts.Cids {
		tok = append(tok, []byte(c["/"])...)
	}
	return tok, ts.Height, nil
}

// push sends msg through the node's MpoolPushMessage and returns its CID.
func (n *chainNode) push(to address.Address, method uint64, params []byte, value abi.TokenAmount) (cid.Cid, error) {
	msg := map[string]any{
		"Version": 0, "To": to.String(), "From": n.wallet.Address.String(), "Nonce": 0,
		"Value": value.String(), "GasLimit": 0, "GasFeeCap": "0", "GasPremium": "0",
		"Method": method, "Params": base64.StdEncoding.EncodeToString(params),
	}
	var signed struct {
		CID map[string]string
	}
	if err := n.node.Call("MpoolPushMessage", &signed, msg, nil); err != nil {
		return cid.Undef, err
	}
	return cid.Parse(signed.CID["/"])
}

func (n *chainNode) GetOrCreatePaymentChannel(ctx context.Context, from, to address.Address, amount abi.TokenAmount, _ shared.TipSetToken) (address.Address, cid.Cid, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if from != n.wallet.Address {
		return address.Undef, cid.Undef, fmt.Errorf("no key for %s", from)
	}
	if n.channel != address.Undef {
		unspent := big.Sub(n.funds, n.redeemed())
		if unspent.GreaterThanEqual(amount) {
			return n.channel, cid.Undef, nil
		}
		more := big.Sub(amount, unspent)
		id, err := n.push(n.channel, 0, nil, more)
		if err != nil {
			return address.Undef, cid.Undef, err
		}
		n.pendingAdd(id, more)
		return n.channel, id, nil
	}
	var nv uint
	if err := n.node.Call("StateNetworkVersion", &nv, nil); err != nil {
		return address.Undef, cid.Undef, err
	}
	var codes map[string]map[string]string
	if err := n.node.Call("StateActorCodeCIDs", &codes, nv); err != nil {
		return address.Undef, cid.Undef, err
	}
	code, err := cid.Parse(codes["paymentchannel"]["/"])
	if err != nil {
		return address.Undef, cid.Undef, fmt.Errorf("the node's payment channel code: %w", err)
	}
	var ctor bytes.Buffer
	if err := (&paychtypes.ConstructorParams{From: from, To: to}).MarshalCBOR(&ctor); err != nil {
		return address.Undef, cid.Undef, err
	}
	var exec bytes.Buffer
	if err := (&init8.ExecParams{CodeCID: code, ConstructorParams: ctor.Bytes()}).MarshalCBOR(&exec); err != nil {
		return address.Undef, cid.Undef, err
	}
	initActor, _ := address.NewIDAddress(1)
	id, err := n.push(initActor, 2 /* Exec */, exec.Bytes(), amount)
	if err != nil {
		return address.Undef, cid.Undef, err
	}
	n.pendingAdd(id, amount)
	return address.Undef, id, nil
}

func (n *chainNode) pendingAdd(id cid.Cid, amount abi.TokenAmount) {
	if n.pending == nil {
		n.pending = map[cid.Cid]abi.TokenAmount{}
	}
	n.pending[id] = amount
}

// redeemed is what the vouchers made so far spend: each lane's best.
func (n *chainNode) redeemed() abi.TokenAmount {
	sum := big.Zero()
	for _, v := range n.best {
		sum = big.Add(sum, v.Amount)
	}
	return sum
}

func (n *chainNode) WaitForPaymentChannelReady(ctx context.Context, id cid.Cid) (address.Address, error) {
	var lookup struct {
		Receipt struct {
			ExitCode int64
			Return   []byte
		}
	}
	if err := n.node.Call("StateWaitMsg", &lookup, map[string]string{"/": id.String()}, 1, -1, true); err != nil {
		return address.Undef, err
	}
	if lookup.Receipt.ExitCode != 0 {
		return address.Undef, fmt.Errorf("payment channel message %s failed with exit code %d", id, lookup.Receipt.ExitCode)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	amount, ok := n.pending[id]
	if !ok {
		return address.Undef, fmt.Errorf("message %s is not one of this node's", id)
	}
	delete(n.pending, id)
	if n.channel == address.Undef {
		var ret init8.ExecReturn
		if err := ret.UnmarshalCBOR(bytes.NewReader(lookup.Receipt.Return)); err != nil {
			return address.Undef, fmt.Errorf("decoding Exec's return: %w", err)
		}
		n.channel = ret.RobustAddress
		n.funds = big.Zero()
	}
	n.funds = big.Add(n.funds, amount)
	return n.channel, nil
}

func (n *chainNode) CheckAvailableFunds(ctx context.Context, ch address.Address) (retrievalmarket.ChannelAvailableFunds, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch != n.channel {
		return retrievalmarket.ChannelAvailableFunds{}, fmt.Errorf("unknown channel %s", ch)
	}
	pending := big.Zero()
	var sentinel *cid.Cid
	for id, amt := range n.pending {
		id := id
		pending = big.Add(pending, amt)
		sentinel = &id
	}
	return retrievalmarket.ChannelAvailableFunds{
		ConfirmedAmt:        n.funds,
		PendingAmt:          pending,
		PendingWaitSentinel: sentinel,
		QueuedAmt:           big.Zero(),
		VoucherReedeemedAmt: n.redeemed(),
	}, nil
}

func (n *chainNode) AllocateLane(ctx context.Context, ch address.Address) (uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	lane := n.lanes[ch]
	n.lanes[ch] = lane + 1
	return lane, nil
}

func (n *chainNode) CreatePaymentVoucher(ctx context.Context, ch address.Address, amount abi.TokenAmount, lane uint64, _ shared.TipSetToken) (*paychtypes.SignedVoucher, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := laneKey{ch, lane}
	prev, seen := n.best[key]
	before := big.Zero()
	if seen {
		before = prev.Amount
	}
	others := big.Sub(n.redeemed(), before)
	if short := big.Sub(big.Add(others, amount), n.funds); short.GreaterThan(big.Zero()) {
		return nil, retrievalmarket.NewShortfallError(short)
	}
	sv := paychtypes.SignedVoucher{ChannelAddr: ch, Lane: lane, Nonce: prev.Nonce + 1, Amount: amount}
	signing, err := sv.SigningBytes()
	if err != nil {
		return nil, err
	}
	sig, err := n.wallet.Sign(signing)
	if err != nil {
		return nil, err
	}
	sv.Signature = &sig
	n.best[key] = sv
	return &sv, nil
}

func (n *chainNode) GetKnownAddresses(ctx context.Context, p retrievalmarket.RetrievalPeer, _ shared.TipSetToken) ([]ma.Multiaddr, error) {
	return n.miner.Multiaddrs, nil
}
