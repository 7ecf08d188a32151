// Package zstd stands in for github.com/DataDog/zstd (a cgo binding) in the interop peers,
// which build with CGO_ENABLED=0. Lotus, pulled in by boost's types, calls only NewReader,
// to unpack its embedded actor bundles; this gives it the same stream from the pure-Go
// decoder in klauspost/compress.
package zstd

import (
	"io"

	kzstd "github.com/klauspost/compress/zstd"
)

type reader struct {
	d   *kzstd.Decoder
	err error
}

// NewReader decompresses r.
func NewReader(r io.Reader) io.ReadCloser {
	d, err := kzstd.NewReader(r)
	return &reader{d: d, err: err}
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return r.d.Read(p)
}

func (r *reader) Close() error {
	if r.d != nil {
		r.d.Close()
	}
	return nil
}
