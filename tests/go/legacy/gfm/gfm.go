// Package gfm holds what the go-fil-markets retrieval programs share.
package gfm

import (
	"context"

	"droplet-rs/tests/go/peerutil"

	"github.com/filecoin-project/go-fil-markets/shared"
)

// Ready starts a component (start) and waits for the signal it gives through onReady.
func Ready(ctx context.Context, onReady func(shared.ReadyFunc), start func() error) {
	errs := make(chan error, 1)
	onReady(func(err error) { errs <- err })
	peerutil.Check(start(), "starting")
	select {
	case err := <-errs:
		peerutil.Check(err, "getting ready")
	case <-ctx.Done():
		peerutil.Fail("a component did not get ready")
	}
}

// DataTransferReady adapts a ReadyFunc to go-data-transfer's OnReady callback.
func DataTransferReady(f shared.ReadyFunc) func(error) { return func(err error) { f(err) } }
