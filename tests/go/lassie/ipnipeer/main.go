// go-ipni-peer: go-libipni (the version lassie pins) reading a provider's advertisement
// chain as an indexer does, for the interop suite.
//
//	go-ipni-peer sync <publisher multiaddr> <provider peer ID>
//	    fetches the signed head over ipnisync (HTTP), checks it is signed by the peer, then
//	    walks the chain back to its first advertisement; each advertisement and entry chunk is
//	    fetched by CID (go-libipni checks each block's hash), decoded with go-libipni's
//	    schema, and its signature verified. Prints one line of JSON (the chain, newest first),
//	    or "ERROR <message>".
//	go-ipni-peer indexer
//	    an announce endpoint on 127.0.0.1: prints "LISTEN http://<addr>", then for each
//	    announcement (HTTP PUT, CBOR or JSON) prints "ANNOUNCE <json>" and, after syncing from
//	    the announced publisher address, the chain as "CHAIN <json>" (or "ERROR <message>");
//	    and answers GET /multihash/<b58> from what it has synced, as an indexer's find API
//	    does (ndjson ProviderResults when asked, else a FindResponse), so lassie can find
//	    the provider through it. Runs until
//	    killed.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime"
	_ "github.com/ipld/go-ipld-prime/codec/dagjson"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/storage/memstore"
	selectorparse "github.com/ipld/go-ipld-prime/traversal/selector/parse"
	"github.com/ipni/go-libipni/announce/message"
	"github.com/ipni/go-libipni/dagsync/ipnisync"
	"github.com/ipni/go-libipni/find/model"
	"github.com/ipni/go-libipni/ingest/schema"
	"github.com/ipni/go-libipni/metadata"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/multiformats/go-multihash"
)

// Protocol is one decoded metadata protocol.
type Protocol struct {
	Code          uint64
	PieceCID      string `json:",omitempty"`
	VerifiedDeal  bool   `json:",omitempty"`
	FastRetrieval bool   `json:",omitempty"`
}

// Provider is one extended provider record.
type Provider struct {
	ID        string
	Addresses []string
	Metadata  []Protocol
	raw       []byte
}

// Ad is one advertisement as read and checked.
type Ad struct {
	Cid         string
	Provider    string
	Signer      string
	Addresses   []string
	ContextID   string // hex
	IsRm        bool
	Metadata    []Protocol
	Entries     string
	Multihashes []string // hex, in chain order
	Chunks      int
	// EntriesGone: the publisher no longer has the entries (the context was removed later);
	// indexers skip such an advertisement's entries ("content not found").
	EntriesGone       bool
	ExtendedProviders []Provider `json:",omitempty"`
	contextID         []byte
	metadata          []byte
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: go-ipni-peer sync <maddr> <peer> | indexer")
	}
	switch os.Args[1] {
	case "sync":
		if len(os.Args) < 4 {
			fail("usage: go-ipni-peer sync <maddr> <peer>")
		}
		ad, err := syncChain(os.Args[2], os.Args[3])
		if err != nil {
			fmt.Printf("ERROR %s\n", err)
			os.Exit(1)
		}
		out, _ := json.Marshal(ad)
		fmt.Println(string(out))
	case "indexer":
		if err := indexer(); err != nil {
			fmt.Printf("ERROR %s\n", err)
			os.Exit(1)
		}
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(2)
}

func protocols(b []byte) ([]Protocol, error) {
	md := metadata.Default.New()
	if len(b) == 0 {
		return []Protocol{}, nil
	}
	if err := md.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("metadata %x: %w", b, err)
	}
	out := []Protocol{}
	for _, code := range md.Protocols() {
		p := Protocol{Code: uint64(code)}
		if gs, ok := md.Get(code).(*metadata.GraphsyncFilecoinV1); ok {
			p.PieceCID = gs.PieceCID.String()
			p.VerifiedDeal = gs.VerifiedDeal
			p.FastRetrieval = gs.FastRetrieval
		}
		out = append(out, p)
	}
	return out, nil
}

// syncChain reads the whole chain from the publisher at maddr, signed by peerID.
func syncChain(maddr, peerID string) ([]Ad, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, err := multiaddr.NewMultiaddr(maddr)
	if err != nil {
		return nil, err
	}
	pid, err := peer.Decode(peerID)
	if err != nil {
		return nil, err
	}
	store := &memstore.Store{}
	lsys := cidlink.DefaultLinkSystem()
	lsys.SetReadStorage(store)
	lsys.SetWriteStorage(store)
	s := ipnisync.NewSync(lsys, nil)
	defer s.Close()
	syncer, err := s.NewSyncer(peer.AddrInfo{ID: pid, Addrs: []multiaddr.Multiaddr{addr}})
	if err != nil {
		return nil, err
	}
	head, err := syncer.GetHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	// One block at a time: the match-point selector fetches just the node.
	fetch := func(c cid.Cid) ([]byte, error) {
		if err := syncer.Sync(ctx, c, selectorparse.CommonSelector_MatchPoint); err != nil {
			return nil, fmt.Errorf("fetching %s: %w", c, err)
		}
		return store.Get(ctx, cidlink.Link{Cid: c}.Binary())
	}
	ads := []Ad{}
	seen := map[cid.Cid]bool{}
	for c := head; c != cid.Undef; {
		if seen[c] {
			return nil, fmt.Errorf("the chain loops at %s", c)
		}
		seen[c] = true
		data, err := fetch(c)
		if err != nil {
			return nil, err
		}
		ad, err := schema.BytesToAdvertisement(c, data)
		if err != nil {
			return nil, fmt.Errorf("advertisement %s: %w", c, err)
		}
		if err := ad.Validate(); err != nil {
			return nil, fmt.Errorf("advertisement %s: %w", c, err)
		}
		signer, err := ad.VerifySignature()
		if err != nil {
			return nil, fmt.Errorf("advertisement %s signature: %w", c, err)
		}
		md, err := protocols(ad.Metadata)
		if err != nil {
			return nil, fmt.Errorf("advertisement %s: %w", c, err)
		}
		out := Ad{
			Cid: c.String(), Provider: ad.Provider, Signer: signer.String(), Addresses: ad.Addresses,
			ContextID: hex.EncodeToString(ad.ContextID), IsRm: ad.IsRm, Metadata: md,
			Entries: ad.Entries.String(), Multihashes: []string{},
			contextID: ad.ContextID, metadata: ad.Metadata,
		}
		if ad.ExtendedProvider != nil {
			for _, p := range ad.ExtendedProvider.Providers {
				pm, err := protocols(p.Metadata)
				if err != nil {
					return nil, err
				}
				out.ExtendedProviders = append(out.ExtendedProviders, Provider{ID: p.ID, Addresses: p.Addresses, Metadata: pm, raw: p.Metadata})
			}
		}
		if ad.Entries != schema.NoEntries {
			for e := ad.Entries.(cidlink.Link).Cid; e != cid.Undef; {
				data, err := fetch(e)
				if err != nil && errors.As(err, &ipld.ErrNotExists{}) {
					out.EntriesGone = true
					break
				}
				if err != nil {
					return nil, err
				}
				chunk, err := schema.BytesToEntryChunk(e, data)
				if err != nil {
					return nil, fmt.Errorf("entry chunk %s: %w", e, err)
				}
				for _, mh := range chunk.Entries {
					out.Multihashes = append(out.Multihashes, hex.EncodeToString(mh))
				}
				out.Chunks++
				e = cid.Undef
				if chunk.Next != nil {
					e = chunk.Next.(cidlink.Link).Cid
				}
			}
		}
		ads = append(ads, out)
		c = ad.PreviousCid()
	}
	return ads, nil
}

// announcement is how an ANNOUNCE line reports one.
type announcement struct {
	Cid   string
	Addrs []string
	Extra string
	Type  string
}

func indexer() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("LISTEN http://%s\n", ln.Addr())
	lines := make(chan string, 64)
	go func() {
		for l := range lines {
			fmt.Println(l)
		}
	}()
	idx := &index{records: map[string]record{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/multihash/") {
			idx.find(w, strings.TrimPrefix(r.URL.Path, "/multihash/"), strings.Contains(r.Header.Get("Accept"), "ndjson"))
			return
		}
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg message.Message
		if strings.Contains(r.Header.Get("Content-Type"), "json") {
			err = json.Unmarshal(body, &msg)
		} else {
			err = msg.UnmarshalCBOR(bytes.NewReader(body))
		}
		if err != nil {
			lines <- "ERROR announce body: " + err.Error()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		addrs, err := msg.GetAddrs()
		if err != nil || len(addrs) == 0 {
			lines <- fmt.Sprintf("ERROR announce addrs: %v", err)
			http.Error(w, "bad addrs", http.StatusBadRequest)
			return
		}
		a := announcement{Cid: msg.Cid.String(), Extra: hex.EncodeToString(msg.ExtraData), Type: r.Header.Get("Content-Type")}
		for _, ad := range addrs {
			a.Addrs = append(a.Addrs, ad.String())
		}
		j, _ := json.Marshal(a)
		lines <- "ANNOUNCE " + string(j)
		w.WriteHeader(http.StatusNoContent)
		// As an indexer: sync from the announced publisher, in the background.
		go func() {
			info, err := peer.AddrInfoFromP2pAddr(addrs[0])
			if err != nil {
				lines <- "ERROR announced address has no /p2p: " + err.Error()
				return
			}
			if len(info.Addrs) == 0 {
				lines <- "ERROR announced address is only a peer ID"
				return
			}
			ads, err := syncChain(info.Addrs[0].String(), info.ID.String())
			if err != nil {
				lines <- "ERROR " + err.Error()
				return
			}
			found := false
			for _, ad := range ads {
				found = found || ad.Cid == msg.Cid.String()
			}
			if !found {
				lines <- "ERROR the announced advertisement is not in the publisher's chain"
				return
			}
			idx.load(ads)
			j, _ := json.Marshal(ads)
			lines <- "CHAIN " + string(j)
		}()
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// record is what the index holds for one context ID.
type record struct {
	provider  peer.AddrInfo
	contextID []byte
	metadata  []byte
	mhs       map[string]bool
}

// index answers lookups as an indexer's find API does (GET /multihash/<b58>, ndjson of
// go-libipni's model.ProviderResult): the advertisement's own record, then one per
// provider-wide extended provider.
type index struct {
	mu         sync.Mutex
	records    map[string]record
	xproviders []Provider
}

// load replaces the index with what a chain (newest first) says now.
func (x *index) load(ads []Ad) {
	records := map[string]record{}
	var xps []Provider
	for i := len(ads) - 1; i >= 0; i-- {
		ad := ads[i]
		if len(ad.contextID) == 0 {
			if ad.ExtendedProviders != nil || !ad.IsRm {
				xps = ad.ExtendedProviders
			}
			continue
		}
		key := string(ad.contextID)
		if ad.IsRm {
			delete(records, key)
			continue
		}
		pid, err := peer.Decode(ad.Provider)
		if err != nil {
			continue
		}
		rec := record{provider: peer.AddrInfo{ID: pid}, contextID: ad.contextID, metadata: ad.metadata, mhs: map[string]bool{}}
		for _, a := range ad.Addresses {
			if m, err := multiaddr.NewMultiaddr(a); err == nil {
				rec.provider.Addrs = append(rec.provider.Addrs, m)
			}
		}
		if prev, ok := records[key]; ok && ad.EntriesGone {
			rec.mhs = prev.mhs
		}
		for _, h := range ad.Multihashes {
			rec.mhs[h] = true
		}
		records[key] = rec
	}
	x.mu.Lock()
	x.records, x.xproviders = records, xps
	x.mu.Unlock()
}

func (x *index) find(w http.ResponseWriter, b58 string, ndjson bool) {
	mh, err := multihash.FromB58String(b58)
	if err != nil {
		http.Error(w, "bad multihash", http.StatusBadRequest)
		return
	}
	key := hex.EncodeToString(mh)
	x.mu.Lock()
	var results []model.ProviderResult
	for _, rec := range x.records {
		if !rec.mhs[key] {
			continue
		}
		p := rec.provider
		results = append(results, model.ProviderResult{ContextID: rec.contextID, Metadata: rec.metadata, Provider: &p})
		for _, xp := range x.xproviders {
			id, err := peer.Decode(xp.ID)
			if err != nil {
				continue
			}
			info := peer.AddrInfo{ID: id}
			for _, a := range xp.Addresses {
				if m, err := multiaddr.NewMultiaddr(a); err == nil {
					info.Addrs = append(info.Addrs, m)
				}
			}
			results = append(results, model.ProviderResult{ContextID: rec.contextID, Metadata: xp.raw, Provider: &info})
		}
	}
	x.mu.Unlock()
	if len(results) == 0 {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if !ndjson {
		w.Header().Set("Content-Type", "application/json")
		body, _ := json.Marshal(model.FindResponse{MultihashResults: []model.MultihashResult{{Multihash: mh, ProviderResults: results}}})
		_, _ = w.Write(body)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	for _, r := range results {
		line, _ := json.Marshal(r)
		_, _ = w.Write(append(line, '\n'))
	}
}

// The link prototype is go-libipni's; referenced so a schema change shows up here.
var _ ipld.LinkPrototype = schema.Linkproto
