package peerutil

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/filecoin-project/go-address"
	"github.com/filecoin-project/go-state-types/abi"
	"github.com/filecoin-project/go-state-types/big"
	"github.com/multiformats/go-multiaddr"
)

// UseTestnet makes addresses print as t…, as lotus on a test network prints them. Call it
// first in main: lotus's build package (which boost's types pull in) sets mainnet in its init.
func UseTestnet() {
	address.CurrentNetwork = address.Testnet
}

// Node is a lotus-style full node, reached over JSON-RPC as boost's client reaches its gateway.
type Node struct {
	URL   string // http://host:port/rpc/v1
	Token string
}

// Call runs one Filecoin.* method.
func (n Node) Call(method string, out any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "Filecoin." + method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequest("POST", n.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if n.Token != "" {
		req.Header.Set("Authorization", "Bearer "+n.Token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	var answer struct {
		Result json.RawMessage
		Error  *struct {
			Code    int
			Message string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return fmt.Errorf("%s: reading the answer (HTTP %d): %w", method, resp.StatusCode, err)
	}
	if answer.Error != nil {
		return fmt.Errorf("%s: %s", method, answer.Error.Message)
	}
	return json.Unmarshal(answer.Result, out)
}

// Head is the chain's current height.
func (n Node) Head() (abi.ChainEpoch, error) {
	var ts struct{ Height abi.ChainEpoch }
	err := n.Call("ChainHead", &ts)
	return ts.Height, err
}

// Miner is what a client needs of a miner: where to reach it, and who signs for it.
type Miner struct {
	PeerID     string
	Multiaddrs []multiaddr.Multiaddr
	// WorkerKey is the worker's key address (f1 or f3), which verifies its signatures.
	WorkerKey address.Address
}

// MinerInfo reads the miner's peer, addresses and worker key from chain state.
func (n Node) MinerInfo(miner address.Address) (Miner, error) {
	var info struct {
		PeerId     string
		Multiaddrs []string
		Worker     address.Address
	}
	if err := n.Call("StateMinerInfo", &info, miner, nil); err != nil {
		return Miner{}, err
	}
	m := Miner{PeerID: info.PeerId}
	for _, b64 := range info.Multiaddrs {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return Miner{}, err
		}
		ma, err := multiaddr.NewMultiaddrBytes(raw)
		if err != nil {
			return Miner{}, err
		}
		m.Multiaddrs = append(m.Multiaddrs, ma)
	}
	if err := n.Call("StateAccountKey", &m.WorkerKey, info.Worker, nil); err != nil {
		return Miner{}, err
	}
	return m, nil
}

// CollateralBounds is the provider collateral range the market actor accepts for a deal.
func (n Node) CollateralBounds(size abi.PaddedPieceSize, verified bool) (min, max big.Int, err error) {
	var b struct{ Min, Max big.Int }
	err = n.Call("StateDealProviderCollateralBounds", &b, size, verified, nil)
	return b.Min, b.Max, err
}
