//go:build tools

// Package tools pins go-graphsplit's command for `go build`.
package tools

import _ "github.com/filedrive-team/go-graphsplit/cmd/graphsplit"
