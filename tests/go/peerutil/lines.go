// Package peerutil is what the interop peers share: the codec harness's line protocol and
// random values with their edge cases.
package peerutil

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Codec is one wire type as the harness knows it: a Go decode-and-re-encode, and a generator
// of encoded values.
type Codec struct {
	// RoundTrip decodes b with the Go type and encodes it again.
	RoundTrip func(b []byte) ([]byte, error)
	// Generate encodes a random value; ok is false when Go itself cannot encode what was
	// generated (the caller draws again). Nil for a derived value (a CID computed from the
	// input), which is only checked Rust → Go.
	Generate func(r *Rand) (b []byte, ok bool)
}

// Main runs a codec program:
//
//	codec types                 the type names, one a line
//	codec roundtrip             stdin "<type> <hex>" lines → stdout "<type> <hex>" or "<type> ! <error>"
//	codec generate <n> <seed>   n encoded values of every type, "<type> <hex>" lines
//
// setup adds the program's own hooks to each generator.
func Main(codecs map[string]Codec, setup func(r *Rand)) {
	if len(os.Args) < 2 {
		fatal("usage: codec types | roundtrip | generate <n> <seed>")
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()
	switch os.Args[1] {
	case "types":
		for name := range codecs {
			fmt.Fprintln(out, name)
		}
	case "roundtrip":
		if err := roundTrip(codecs, os.Stdin, out); err != nil {
			out.Flush()
			fatal(err.Error())
		}
	case "generate":
		if len(os.Args) != 4 {
			fatal("usage: codec generate <n> <seed>")
		}
		n, err1 := strconv.Atoi(os.Args[2])
		seed, err2 := strconv.ParseInt(os.Args[3], 10, 64)
		if err1 != nil || err2 != nil {
			fatal("generate: n and seed are integers")
		}
		generate(codecs, n, seed, setup, out)
	default:
		fatal("unknown command " + os.Args[1])
	}
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(2)
}

func roundTrip(codecs map[string]Codec, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		name, hx, found := strings.Cut(line, " ")
		if !found {
			return fmt.Errorf("malformed line %q", line)
		}
		c, known := codecs[name]
		if !known {
			fmt.Fprintf(out, "%s ! no Go codec for this type\n", name)
			continue
		}
		b, err := hex.DecodeString(hx)
		if err != nil {
			return fmt.Errorf("%s: bad hex: %w", name, err)
		}
		back, err := safeRoundTrip(c, b)
		if err != nil {
			fmt.Fprintf(out, "%s ! %s\n", name, strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintf(out, "%s %s\n", name, hex.EncodeToString(back))
	}
	return sc.Err()
}

// safeRoundTrip turns a panic in a Go decoder into an error line, so one bad value does not
// hide the rest.
func safeRoundTrip(c Codec, b []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return c.RoundTrip(b)
}

func generate(codecs map[string]Codec, n int, seed int64, setup func(*Rand), out io.Writer) {
	for name, c := range codecs {
		if c.Generate == nil {
			continue
		}
		r := NewRand(seed ^ int64(len(name))*7919)
		if setup != nil {
			setup(r)
		}
		made, tries := 0, 0
		for made < n && tries < 50*n {
			tries++
			r.SetMode(made)
			b, ok := c.Generate(r)
			if !ok {
				continue
			}
			fmt.Fprintf(out, "%s %s\n", name, hex.EncodeToString(b))
			made++
		}
		if made < n {
			fatal(fmt.Sprintf("%s: generated only %d of %d encodable values", name, made, n))
		}
	}
}
