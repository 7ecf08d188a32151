package main

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"droplet-rs/tests/go/peerutil"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-graphsync"
	"github.com/ipfs/go-graphsync/message"
	"github.com/ipfs/go-graphsync/message/ipldbind"
	gsv2 "github.com/ipfs/go-graphsync/message/v2"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/multiformats/go-multihash"
)

// graphsyncMessage is a whole /ipfs/graphsync/2.0.0 frame (varint length and message).
//
// Going in, the frame must pass go-graphsync's own reader (FromNet), and its bytes are
// compared after a bindnode decode and encode with the protocol schema. When the message has
// at most one request, response and block, go-graphsync's writer (ToNet, which keeps them in
// maps and so in no fixed order) must give the same bytes too.
func graphsyncMessage() peerutil.Codec {
	return peerutil.Codec{
		RoundTrip: func(frame []byte) ([]byte, error) {
			handler := gsv2.NewMessageHandler()
			msg, err := handler.FromNet("", bytes.NewReader(frame))
			if err != nil {
				return nil, fmt.Errorf("go-graphsync refused the frame: %w", err)
			}
			length, n := binary.Uvarint(frame)
			if n <= 0 || uint64(len(frame)-n) != length {
				return nil, fmt.Errorf("frame length %d does not match its %d bytes", length, len(frame)-n)
			}
			root, err := ipldbind.BindnodeRegistry.TypeFromBytes(frame[n:], (*ipldbind.GraphSyncMessageRoot)(nil), dagcbor.Decode)
			if err != nil {
				return nil, err
			}
			body, err := ipldbind.BindnodeRegistry.TypeToBytes(root, dagcbor.Encode)
			if err != nil {
				return nil, fmt.Errorf("re-encoding: %w", err)
			}
			out := binary.AppendUvarint(nil, uint64(len(body)))
			out = append(out, body...)
			if atMostOneEach(root.(*ipldbind.GraphSyncMessageRoot)) {
				var viaGo bytes.Buffer
				if err := handler.ToNet("", msg, &viaGo); err != nil {
					return nil, fmt.Errorf("go-graphsync could not write it back: %w", err)
				}
				if !bytes.Equal(viaGo.Bytes(), out) {
					return nil, fmt.Errorf("go-graphsync writes it back as %x", viaGo.Bytes())
				}
			}
			return out, nil
		},
		Generate: func(r *peerutil.Rand) ([]byte, bool) {
			requests := map[graphsync.RequestID]message.GraphSyncRequest{}
			for i := r.Count(0); i > 0; i-- {
				id := requestID(r)
				switch r.Intn(3) {
				case 0:
					requests[id] = message.NewRequest(id, r.Cid(), r.NodeNotNull(0), graphsync.Priority(r.Int64Sized(32)), extensions(r)...)
				case 1:
					requests[id] = message.NewCancelRequest(id)
				default:
					requests[id] = message.NewUpdateRequest(id, extensions(r)...)
				}
			}
			statuses := []graphsync.ResponseStatusCode{10, 11, 12, 13, 14, 15, 20, 21, 30, 31, 32, 33, 34, 35}
			actions := []graphsync.LinkAction{graphsync.LinkActionPresent, graphsync.LinkActionDuplicateNotSent, graphsync.LinkActionMissing, graphsync.LinkActionDuplicateDAGSkipped}
			responses := map[graphsync.RequestID]message.GraphSyncResponse{}
			for i := r.Count(0); i > 0; i-- {
				id := requestID(r)
				var md []message.GraphSyncLinkMetadatum
				for j := r.Count(1); j > 0; j-- {
					md = append(md, message.GraphSyncLinkMetadatum{Link: r.Cid(), Action: actions[r.Intn(len(actions))]})
				}
				responses[id] = message.NewResponse(id, statuses[r.Intn(len(statuses))], md, extensions(r)...)
			}
			blks := map[cid.Cid]blocks.Block{}
			for i := r.Count(0); i > 0; i-- {
				data := r.Bytes()
				prefixes := []cid.Prefix{
					{Version: 0, Codec: cid.DagProtobuf, MhType: multihash.SHA2_256, MhLength: -1},
					{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1},
					{Version: 1, Codec: cid.DagCBOR, MhType: multihash.BLAKE2B_MIN + 31, MhLength: -1},
				}
				c, err := prefixes[r.Intn(len(prefixes))].Sum(data)
				if err != nil {
					return nil, false
				}
				b, err := blocks.NewBlockWithCid(data, c)
				if err != nil {
					return nil, false
				}
				blks[c] = b
			}
			var out bytes.Buffer
			if err := gsv2.NewMessageHandler().ToNet("", message.NewMessage(requests, responses, blks), &out); err != nil {
				return nil, false
			}
			return out.Bytes(), true
		},
	}
}

// atMostOneEach: the message has at most one request, response and block on the wire (Go
// keeps them in maps by request ID and CID, so it merges repeats and loses their order).
func atMostOneEach(root *ipldbind.GraphSyncMessageRoot) bool {
	m := root.Gs2
	return m == nil || ((m.Requests == nil || len(*m.Requests) <= 1) &&
		(m.Responses == nil || len(*m.Responses) <= 1) &&
		(m.Blocks == nil || len(*m.Blocks) <= 1))
}

func requestID(r *peerutil.Rand) graphsync.RequestID {
	id, err := graphsync.ParseRequestID(r.Fixed(16))
	if err != nil {
		panic(err)
	}
	return id
}

func extensions(r *peerutil.Rand) []graphsync.ExtensionData {
	names := []graphsync.ExtensionName{
		"fil/data-transfer/1.1",
		"fil/data-transfer/incoming-request/1.1",
		"fil/data-transfer/outgoing-block/1.1",
		"graphsync/do-not-send-cids",
		"graphsync/do-not-send-first-blocks",
		"graphsync/dedup-by-key",
	}
	var ext []graphsync.ExtensionData
	seen := map[graphsync.ExtensionName]bool{}
	for i := r.Count(1); i > 0; i-- {
		name := names[r.Intn(len(names))]
		if seen[name] {
			continue
		}
		seen[name] = true
		// Never nil: go-graphsync writes a nil value as null but its reader refuses null.
		ext = append(ext, graphsync.ExtensionData{Name: name, Data: r.NodeNotNull(1)})
	}
	return ext
}
