// Command provider is a go-fil-markets retrieval provider (retrievalmarket/impl.NewProvider, the
// provider lotus-miner shipped) serving one CAR for a miner, for pay:
//
//	provider --node URL --token T --miner ID --car FILE --root CID --piece CID --piece-size N
//	         --price-per-byte ATTO --payment-interval BYTES
//
// It listens on loopback, prints {"PeerID", "Addrs"} as its first line, then a line for every
// voucher it accepts and every deal event, until it is stopped. Its node is a lotus full node
// over JSON-RPC: the query's payment address is the miner's worker, and every voucher is checked
// as lotus' payment channel manager checks an inbound one (the channel on chain pays the
// worker, the voucher is signed by the channel's payer, its nonce and amount go up on its lane,
// and the lanes' total stays within the channel's balance) before the delta counts as paid.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"droplet-rs/tests/go/legacy/gfm"
	"droplet-rs/tests/go/peerutil"

	"github.com/filecoin-project/dagstore"
	"github.com/filecoin-project/go-address"
	cborutil "github.com/filecoin-project/go-cbor-util"
	dtimpl "github.com/filecoin-project/go-data-transfer/v2/impl"
	dtnet "github.com/filecoin-project/go-data-transfer/v2/network"
	dtgstransport "github.com/filecoin-project/go-data-transfer/v2/transport/graphsync"
	"github.com/filecoin-project/go-fil-markets/piecestore"
	piecestoreimpl "github.com/filecoin-project/go-fil-markets/piecestore/impl"
	"github.com/filecoin-project/go-fil-markets/retrievalmarket"
	retrievalimpl "github.com/filecoin-project/go-fil-markets/retrievalmarket/impl"
	rmnet "github.com/filecoin-project/go-fil-markets/retrievalmarket/network"
	"github.com/filecoin-project/go-fil-markets/shared"
	"github.com/filecoin-project/go-fil-markets/storagemarket"
	"github.com/filecoin-project/go-fil-markets/stores"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/filecoin-project/go-state-types/big"
	paychtypes "github.com/filecoin-project/go-state-types/builtin/v8/paych"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dssync "github.com/ipfs/go-datastore/sync"
	gsimpl "github.com/ipfs/go-graphsync/impl"
	gsnet "github.com/ipfs/go-graphsync/network"
	carv2 "github.com/ipld/go-car/v2"
	carbs "github.com/ipld/go-car/v2/blockstore"
	carindex "github.com/ipld/go-car/v2/index"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/libp2p/go-libp2p"
)

func main() {
	peerutil.UseTestnet()
	fs := flag.NewFlagSet("provider", flag.ExitOnError)
	nodeURL := fs.String("node", "", "full node JSON-RPC URL")
	token := fs.String("token", "", "full node token")
	minerStr := fs.String("miner", "", "miner actor address")
	carPath := fs.String("car", "", "the CAR to serve")
	rootStr := fs.String("root", "", "the CAR's root")
	pieceStr := fs.String("piece", "", "the CAR's piece CID")
	pieceSize := fs.Uint64("piece-size", 0, "padded piece size")
	price := fs.String("price-per-byte", "0", "attoFIL per byte")
	interval := fs.Uint64("payment-interval", 1<<20, "bytes between payments")
	_ = fs.Parse(os.Args[1:])

	miner, err := address.NewFromString(*minerStr)
	peerutil.Check(err, "miner address")
	root, err := cid.Parse(*rootStr)
	peerutil.Check(err, "root CID")
	piece, err := cid.Parse(*pieceStr)
	peerutil.Check(err, "piece CID")
	pricePerByte, err := big.FromString(*price)
	peerutil.Check(err, "price")
	node := &chainNode{node: peerutil.Node{URL: *nodeURL, Token: *token}, best: map[laneKey]paychtypes.SignedVoucher{}}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	peerutil.Check(err, "libp2p host")
	defer h.Close()

	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	gs := gsimpl.New(ctx, gsnet.NewFromLibp2pHost(h), cidlink.DefaultLinkSystem())
	dt, err := dtimpl.NewDataTransfer(namespace.Wrap(ds, datastore.NewKey("/datatransfer")),
		dtnet.NewFromLibp2pHost(h), dtgstransport.NewTransport(h.ID(), gs))
	peerutil.Check(err, "data transfer")
	gfm.Ready(ctx, func(f shared.ReadyFunc) { dt.OnReady(gfm.DataTransferReady(f)) }, func() error { return dt.Start(ctx) })

	pieces, err := piecestoreimpl.NewPieceStore(namespace.Wrap(ds, datastore.NewKey("/pieces")))
	peerutil.Check(err, "piece store")
	gfm.Ready(ctx, pieces.OnReady, func() error { return pieces.Start(ctx) })
	length := abi.PaddedPieceSize(*pieceSize)
	peerutil.Check(pieces.AddDealForPiece(piece, root, piecestore.DealInfo{DealID: 1, SectorID: 1, Offset: 0, Length: length}), "recording the piece")

	car, err := newCarStore(*carPath, piece)
	peerutil.Check(err, "opening the CAR")
	ask := retrievalmarket.Ask{PricePerByte: pricePerByte, UnsealPrice: big.Zero(), PaymentInterval: *interval}
	pricing := func(ctx context.Context, in retrievalmarket.PricingInput) (retrievalmarket.Ask, error) {
		return ask, nil
	}
	provider, err := retrievalimpl.NewProvider(miner, node, unsealed{}, rmnet.NewFromLibp2pHost(h), pieces, car, dt,
		namespace.Wrap(ds, datastore.NewKey("/retrievals/provider")), pricing)
	peerutil.Check(err, "retrieval provider")
	var printMu sync.Mutex
	print := func(v any) {
		printMu.Lock()
		defer printMu.Unlock()
		peerutil.Print(v)
	}
	node.print = print
	worker, err := node.GetMinerWorkerAddress(ctx, miner, nil)
	peerutil.Check(err, "the miner's worker")
	node.worker, err = node.lookupID(worker)
	peerutil.Check(err, "the worker's ID")
	provider.SubscribeToEvents(func(ev retrievalmarket.ProviderEvent, st retrievalmarket.ProviderDealState) {
		print(map[string]any{"Deal": map[string]any{
			"Event":         retrievalmarket.ProviderEvents[ev],
			"Status":        retrievalmarket.DealStatuses[st.Status],
			"FundsReceived": st.FundsReceived.String(),
			"Message":       st.Message,
		}})
	})
	gfm.Ready(ctx, provider.OnReady, func() error { return provider.Start(ctx) })

	addrs := []string{}
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String())
	}
	print(map[string]any{"PeerID": h.ID().String(), "Addrs": addrs})
	<-ctx.Done()
	_ = provider.Stop()
}

// unsealed says every piece has an unsealed copy: the CAR is served as it is.
type unsealed struct{}

func (unsealed) UnsealSector(context.Context, abi.SectorNumber, abi.UnpaddedPieceSize, abi.UnpaddedPieceSize) (io.ReadCloser, error) {
	return nil, errors.New("nothing is sealed here")
}

func (unsealed) IsUnsealed(context.Context, abi.SectorNumber, abi.UnpaddedPieceSize, abi.UnpaddedPieceSize) (bool, error) {
	return true, nil
}

// carStore is the DAG store: one piece, the CAR given (read through its padding, as a piece).
type carStore struct {
	path  string
	piece cid.Cid
	index *carbs.ReadOnly
}

func newCarStore(path string, piece cid.Cid) (*carStore, error) {
	bs, err := carbs.OpenReadOnly(path, carv2.ZeroLengthSectionAsEOF(true))
	if err != nil {
		return nil, err
	}
	return &carStore{path: path, piece: piece, index: bs}, nil
}

func (s *carStore) RegisterShard(context.Context, cid.Cid, string, bool, chan dagstore.ShardResult) error {
	return errors.New("one CAR only")
}

func (s *carStore) LoadShard(ctx context.Context, piece cid.Cid) (stores.ClosableBlockstore, error) {
	if piece != s.piece {
		return nil, fmt.Errorf("no piece %s", piece)
	}
	return carbs.OpenReadOnly(s.path, carv2.ZeroLengthSectionAsEOF(true))
}

func (s *carStore) MigrateDeals(context.Context, []storagemarket.MinerDeal) (bool, error) {
	return false, nil
}

func (s *carStore) GetPiecesContainingBlock(c cid.Cid) ([]cid.Cid, error) {
	has, err := s.index.Has(context.Background(), c)
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, fmt.Errorf("no piece holds %s", c)
	}
	return []cid.Cid{s.piece}, nil
}

func (s *carStore) GetIterableIndexForPiece(cid.Cid) (carindex.IterableIndex, error) {
	return nil, errors.New("no iterable index")
}

func (s *carStore) DestroyShard(context.Context, cid.Cid, chan dagstore.ShardResult) error {
	return errors.New("one CAR only")
}

func (s *carStore) Close() error { return s.index.Close() }

type laneKey struct {
	ch   address.Address
	lane uint64
}

// chainNode is the provider's node: the chain over JSON-RPC, and the inbound vouchers' store.
type chainNode struct {
	node   peerutil.Node
	worker address.Address // the worker's ID address: the payee a channel must name
	print  func(any)

	mu   sync.Mutex
	best map[laneKey]paychtypes.SignedVoucher
}

var _ retrievalmarket.RetrievalProviderNode = (*chainNode)(nil)

func (n *chainNode) GetChainHead(ctx context.Context) (shared.TipSetToken, abi.ChainEpoch, error) {
	h, err := n.node.Head()
	return []byte(fmt.Sprint(h)), h, err
}

func (n *chainNode) GetMinerWorkerAddress(ctx context.Context, miner address.Address, _ shared.TipSetToken) (address.Address, error) {
	var info struct{ Worker address.Address }
	err := n.node.Call("StateMinerInfo", &info, miner, nil)
	return info.Worker, err
}

func (n *chainNode) GetRetrievalPricingInput(ctx context.Context, piece cid.Cid, deals []abi.DealID) (retrievalmarket.PricingInput, error) {
	return retrievalmarket.PricingInput{PieceCID: piece, Unsealed: true}, nil
}

func (n *chainNode) lookupID(a address.Address) (address.Address, error) {
	var id address.Address
	err := n.node.Call("StateLookupID", &id, a, nil)
	return id, err
}

// SavePaymentVoucher checks an inbound voucher against the channel on chain and returns what
// it adds to its lane.
func (n *chainNode) SavePaymentVoucher(ctx context.Context, ch address.Address, sv *paychtypes.SignedVoucher, proof []byte, expected abi.TokenAmount, _ shared.TipSetToken) (abi.TokenAmount, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if sv.ChannelAddr != ch {
		return big.Zero(), fmt.Errorf("the voucher is for %s, not %s", sv.ChannelAddr, ch)
	}
	var actor struct{ Balance big.Int }
	if err := n.node.Call("StateGetActor", &actor, ch, nil); err != nil {
		return big.Zero(), fmt.Errorf("reading channel %s: %w", ch, err)
	}
	var st struct {
		State struct {
			From, To   address.Address
			SettlingAt abi.ChainEpoch
		}
	}
	if err := n.node.Call("StateReadState", &st, ch, nil); err != nil {
		return big.Zero(), fmt.Errorf("reading channel %s: %w", ch, err)
	}
	if st.State.SettlingAt != 0 {
		return big.Zero(), fmt.Errorf("channel %s is settling", ch)
	}
	payee, err := n.lookupID(st.State.To)
	if err != nil {
		return big.Zero(), err
	}
	if payee != n.worker {
		return big.Zero(), fmt.Errorf("channel %s pays %s, not this miner's worker %s", ch, payee, n.worker)
	}
	payer, err := n.lookupID(st.State.From)
	if err != nil {
		return big.Zero(), err
	}
	var key address.Address
	if err := n.node.Call("StateAccountKey", &key, payer, nil); err != nil {
		return big.Zero(), err
	}
	signing, err := sv.SigningBytes()
	if err != nil {
		return big.Zero(), err
	}
	if err := peerutil.Verify(sv.Signature, key, signing); err != nil {
		return big.Zero(), fmt.Errorf("the voucher's signature: %w", err)
	}
	lk := laneKey{ch, sv.Lane}
	prev, seen := n.best[lk]
	before := big.Zero()
	if seen {
		// The provider processes the last voucher again when it asks for the next payment:
		// as lotus, the same voucher re-added adds nothing and is no error.
		if same, err := cborutil.Equals(sv, &prev); err == nil && same {
			return big.Zero(), nil
		}
		if sv.Nonce <= prev.Nonce {
			return big.Zero(), fmt.Errorf("nonce %d is not above the lane's %d", sv.Nonce, prev.Nonce)
		}
		before = prev.Amount
	}
	delta := big.Sub(sv.Amount, before)
	if delta.LessThanEqual(big.Zero()) {
		return big.Zero(), fmt.Errorf("the voucher adds nothing to lane %d", sv.Lane)
	}
	total := delta
	for k, v := range n.best {
		if k.ch == ch {
			total = big.Add(total, v.Amount)
		}
	}
	if total.GreaterThan(actor.Balance) {
		return big.Zero(), fmt.Errorf("the lanes would pay %s, more than the channel's %s", total, actor.Balance)
	}
	n.best[lk] = *sv
	var buf bytes.Buffer
	if err := sv.MarshalCBOR(&buf); err != nil {
		return big.Zero(), err
	}
	n.print(map[string]any{"Voucher": map[string]any{
		"Channel": ch.String(), "From": payer.String(), "To": st.State.To.String(), "Lane": sv.Lane, "Nonce": sv.Nonce,
		"Amount": sv.Amount.String(), "Added": delta.String(), "Cbor": base64.StdEncoding.EncodeToString(buf.Bytes()),
	}})
	return delta, nil
}
