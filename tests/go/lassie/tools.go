//go:build tools

// Package tools pins lassie: `go install github.com/filecoin-project/lassie/cmd/lassie`
// from this module builds exactly the version in go.mod.
package tools

import _ "github.com/filecoin-project/lassie/cmd/lassie"
