package peerutil

import (
	"math"
	mathbig "math/big"
	"math/rand"
	"reflect"

	"github.com/filecoin-project/go-address"
	"github.com/filecoin-project/go-state-types/big"
	"github.com/filecoin-project/go-state-types/builtin/v9/market"
	"github.com/filecoin-project/go-state-types/crypto"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multihash"
)

// The longest string and byte string cbor-gen writes (cbg.MaxLength).
const MaxLength = 8192

// Mode of a value: the first value of each type is the smallest, the second the largest,
// the rest random with their edges drawn often.
const (
	Minimal = iota
	Maximal
	Random
)

// Rand draws values; see Fill.
type Rand struct {
	*rand.Rand
	Mode  int
	hooks map[reflect.Type]func(r *Rand) any
}

func NewRand(seed int64) *Rand {
	r := &Rand{Rand: rand.New(rand.NewSource(seed)), hooks: map[reflect.Type]func(*Rand) any{}}
	r.Hook(cid.Cid{}, func(r *Rand) any { return r.Cid() })
	r.Hook(address.Address{}, func(r *Rand) any { return r.Address() })
	r.Hook(big.Int{}, func(r *Rand) any { return r.BigInt() })
	r.Hook(crypto.Signature{}, func(r *Rand) any { return r.Signature() })
	r.Hook(market.DealLabel{}, func(r *Rand) any { return r.Label() })
	r.hooks[reflect.TypeOf((*datamodel.Node)(nil)).Elem()] = func(r *Rand) any { return r.Node(0) }
	return r
}

// SetMode picks the mode for the i-th value of a type.
func (r *Rand) SetMode(i int) {
	switch i {
	case 0:
		r.Mode = Minimal
	case 1:
		r.Mode = Maximal
	default:
		r.Mode = Random
	}
}

// Hook makes Fill use gen for every value of example's type.
func (r *Rand) Hook(example any, gen func(r *Rand) any) {
	r.hooks[reflect.TypeOf(example)] = gen
}

// HookType is Hook for an interface type: pass a pointer to a variable of it.
func (r *Rand) HookType(ptr any, gen func(r *Rand) any) {
	r.hooks[reflect.TypeOf(ptr).Elem()] = gen
}

// Fill sets every exported field of *ptr, recursively, by the current mode.
func (r *Rand) Fill(ptr any) {
	r.fill(reflect.ValueOf(ptr).Elem(), 0)
}

func (r *Rand) fill(v reflect.Value, depth int) {
	if gen, ok := r.hooks[v.Type()]; ok {
		if x := gen(r); x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(r.Mode == Maximal || (r.Mode == Random && r.Intn(2) == 0))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(r.Int64Sized(v.Type().Bits()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64Sized(v.Type().Bits()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.NormFloat64())
	case reflect.String:
		v.SetString(r.String())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(r.Bytes())
			return
		}
		n := r.Count(depth)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			r.fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			r.fill(v.Index(i), depth+1)
		}
	case reflect.Ptr:
		if r.Nil(depth) {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		p := reflect.New(v.Type().Elem())
		r.fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				r.fill(v.Field(i), depth+1)
			}
		}
	}
}

// Nil: whether an optional part is left out.
func (r *Rand) Nil(depth int) bool {
	switch r.Mode {
	case Minimal:
		return true
	case Maximal:
		return depth > 6
	}
	return r.Intn(4) == 0 || depth > 8
}

// Count of elements in a list.
func (r *Rand) Count(depth int) int {
	switch r.Mode {
	case Minimal:
		return 0
	case Maximal:
		if depth > 4 {
			return 0
		}
		return 3
	}
	if depth > 6 {
		return 0
	}
	return r.Intn(4)
}

func (r *Rand) Uint64Sized(bits int) uint64 {
	max := uint64(math.MaxUint64) >> (64 - bits)
	switch r.Mode {
	case Minimal:
		return 0
	case Maximal:
		return max
	}
	switch r.Intn(6) {
	case 0:
		return 0
	case 1:
		return max
	case 2:
		return uint64(r.Intn(300))
	}
	return r.Uint64() & max
}

func (r *Rand) Int64Sized(bits int) int64 {
	max := int64(math.MaxInt64 >> (64 - bits))
	min := -max - 1
	switch r.Mode {
	case Minimal:
		return 0
	case Maximal:
		return max
	}
	switch r.Intn(8) {
	case 0:
		return 0
	case 1:
		return max
	case 2:
		return min
	case 3:
		return -1 - int64(r.Intn(300))
	case 4:
		return int64(r.Intn(300))
	}
	return int64(r.Uint64()) >> (64 - bits)
}

// String: valid UTF-8 (what a Go peer sends), up to MaxLength bytes.
func (r *Rand) String() string {
	switch r.Mode {
	case Minimal:
		return ""
	case Maximal:
		return r.text(MaxLength)
	}
	switch r.Intn(10) {
	case 0:
		return ""
	case 1:
		return r.text(r.Intn(MaxLength + 1))
	}
	return r.text(r.Intn(40))
}

func (r *Rand) text(maxBytes int) string {
	alphabet := []rune("abcXYZ019 -_/.:é漢\u2028<>&\"\\\x00\x7f😀")
	out := make([]byte, 0, maxBytes)
	for {
		c := string(alphabet[r.Intn(len(alphabet))])
		if len(out)+len(c) > maxBytes {
			return string(out)
		}
		out = append(out, c...)
	}
}

// Bytes: up to MaxLength bytes.
func (r *Rand) Bytes() []byte {
	n := 0
	switch r.Mode {
	case Maximal:
		n = MaxLength
	case Random:
		switch r.Intn(8) {
		case 0:
			n = 0
		case 1:
			n = r.Intn(MaxLength + 1)
		default:
			n = r.Intn(70)
		}
	}
	b := make([]byte, n)
	r.Read(b)
	return b
}

// Cid: sha2-256 and blake2b-256 CIDs of the codecs the market uses, and CIDv0.
func (r *Rand) Cid() cid.Cid {
	data := make([]byte, 8)
	r.Read(data)
	if r.Mode == Minimal {
		h, _ := multihash.Sum(nil, multihash.IDENTITY, -1)
		return cid.NewCidV1(cid.Raw, h)
	}
	codecs := []uint64{cid.DagCBOR, cid.Raw, cid.FilCommitmentUnsealed, cid.DagProtobuf}
	switch r.Intn(4) {
	case 0:
		h, _ := multihash.Sum(data, multihash.SHA2_256, -1)
		return cid.NewCidV0(h)
	case 1:
		h, _ := multihash.Sum(data, multihash.BLAKE2B_MIN+31, -1)
		return cid.NewCidV1(codecs[r.Intn(len(codecs))], h)
	}
	h, _ := multihash.Sum(data, multihash.SHA2_256, -1)
	return cid.NewCidV1(codecs[r.Intn(len(codecs))], h)
}

// Address of every protocol: ID, secp256k1, actor, BLS, delegated.
func (r *Rand) Address() address.Address {
	var a address.Address
	var err error
	kind := r.Intn(5)
	if r.Mode == Minimal {
		kind = 0
	}
	switch kind {
	case 0:
		a, err = address.NewIDAddress(r.Uint64Sized(63))
	case 1:
		a, err = address.NewFromBytes(append([]byte{1}, r.Fixed(20)...))
	case 2:
		a, err = address.NewFromBytes(append([]byte{2}, r.Fixed(20)...))
	case 3:
		a, err = address.NewFromBytes(append([]byte{3}, r.Fixed(48)...))
	default:
		a, err = address.NewDelegatedAddress(uint64(r.Intn(1<<20)), r.Fixed(r.Intn(55)))
	}
	if err != nil {
		panic(err)
	}
	return a
}

// Fixed is n random bytes.
func (r *Rand) Fixed(n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

// BigInt: zero, small, negative and up to the 127 magnitude bytes cbor-gen allows.
func (r *Rand) BigInt() big.Int {
	switch r.Mode {
	case Minimal:
		return big.Zero()
	case Maximal:
		b := make([]byte, 127)
		for i := range b {
			b[i] = 0xff
		}
		return big.NewFromGo(new(mathbig.Int).SetBytes(b))
	}
	switch r.Intn(5) {
	case 0:
		return big.Zero()
	case 1:
		return big.NewInt(-1 - int64(r.Intn(1000)))
	case 2:
		v := new(mathbig.Int).SetBytes(r.Fixed(1 + r.Intn(40)))
		return big.NewFromGo(v.Neg(v))
	}
	return big.NewFromGo(new(mathbig.Int).SetBytes(r.Fixed(1 + r.Intn(40))))
}

// Signature: secp256k1 (65 bytes) or BLS (96 bytes).
func (r *Rand) Signature() crypto.Signature {
	if r.Mode == Minimal {
		return crypto.Signature{Type: crypto.SigTypeSecp256k1, Data: []byte{}}
	}
	if r.Intn(2) == 0 {
		return crypto.Signature{Type: crypto.SigTypeSecp256k1, Data: r.Fixed(65)}
	}
	return crypto.Signature{Type: crypto.SigTypeBLS, Data: r.Fixed(96)}
}

// MaxLabelLength is go-state-types' limit on a deal label.
const MaxLabelLength = 256

// Label: a UTF-8 string or bytes, at most MaxLabelLength bytes.
func (r *Rand) Label() market.DealLabel {
	n := 0
	switch r.Mode {
	case Maximal:
		n = MaxLabelLength
	case Random:
		n = r.Intn(MaxLabelLength + 1)
		if r.Intn(2) == 0 {
			n = r.Intn(50)
		}
	}
	var l market.DealLabel
	var err error
	if r.Mode != Minimal && r.Intn(2) == 0 {
		l, err = market.NewLabelFromBytes(r.Fixed(n))
	} else {
		l, err = market.NewLabelFromString(r.text(n))
	}
	if err != nil {
		panic(err)
	}
	return l
}

// NodeNotNull: a Node that is not null itself (go-graphsync cannot read a null selector or
// extension value, though it writes a nil extension value as one).
func (r *Rand) NodeNotNull(depth int) datamodel.Node {
	for {
		if n := r.Node(depth); !n.IsNull() {
			return n
		}
	}
}

// Node: an IPLD value (vouchers, selectors, extensions), nested a few levels.
func (r *Rand) Node(depth int) datamodel.Node {
	kinds := 9
	if depth >= 3 {
		kinds = 7
	}
	k := r.Intn(kinds)
	if r.Mode == Minimal {
		k = 0
	}
	switch k {
	case 0:
		return basicnode.NewInt(r.Int64Sized(64))
	case 1:
		return basicnode.NewString(r.text(r.Intn(30)))
	case 2:
		return basicnode.NewBytes(r.Fixed(r.Intn(40)))
	case 3:
		return basicnode.NewBool(r.Intn(2) == 0)
	case 4:
		return basicnode.NewLink(cidlink.Link{Cid: r.Cid()})
	case 5:
		return datamodel.Null
	case 6:
		return basicnode.NewFloat(r.NormFloat64())
	case 7:
		nb := basicnode.Prototype.List.NewBuilder()
		n := r.Intn(4)
		la, _ := nb.BeginList(int64(n))
		for i := 0; i < n; i++ {
			if err := la.AssembleValue().AssignNode(r.Node(depth + 1)); err != nil {
				panic(err)
			}
		}
		if err := la.Finish(); err != nil {
			panic(err)
		}
		return nb.Build()
	default:
		nb := basicnode.Prototype.Map.NewBuilder()
		n := r.Intn(4)
		ma, _ := nb.BeginMap(int64(n))
		for i := 0; i < n; i++ {
			key := []string{"a", "bb", "R", ":>", "Vouch", "k" + string(rune('0'+i))}[r.Intn(5)] + string(rune('0'+i))
			if err := ma.AssembleKey().AssignString(key); err != nil {
				panic(err)
			}
			if err := ma.AssembleValue().AssignNode(r.Node(depth + 1)); err != nil {
				panic(err)
			}
		}
		if err := ma.Finish(); err != nil {
			panic(err)
		}
		return nb.Build()
	}
}
