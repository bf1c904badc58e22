//go:build tools

// The third-party witness the test also runs (litewitness, witnessctl),
// pinned in go.mod and go.sum with the rest.
package main

import (
	_ "filippo.io/torchwood/cmd/litewitness"
	_ "filippo.io/torchwood/cmd/witnessctl"
)
