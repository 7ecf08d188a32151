package peerutil

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Print writes v as one JSON object on stdout: a peer's answer for the Rust test to read.
func Print(v any) {
	out, err := json.Marshal(v)
	Check(err, "printing")
	fmt.Println(string(out))
}

// Check ends the program with what failed when err is not nil.
func Check(err error, what string) {
	if err != nil {
		Fail(what + ": " + err.Error())
	}
}

// Fail ends the program: the message on stderr, exit status 1.
func Fail(msg string) {
	fmt.Fprintln(os.Stderr, filepath.Base(os.Args[0])+":", msg)
	os.Exit(1)
}
