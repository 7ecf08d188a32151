// Command graphsplit-manifest6 rewrites the manifest go-graphsplit v0.5.0 writes with
// --calc-commp (`payload,filename,piece,piece_size,detail`, one hand-formatted line per
// slice) in the six-column form graphsplit's current source writes
// (`playload_cid,filename,piece_cid,payload_size,piece_size,detail` through encoding/csv with
// CRLF), taking payload_size from each CAR's length. The proxy serves only v0.5.0, so this
// gives the interop test the bytes Go's CSV writer produces for the same values.
//
// Usage: graphsplit-manifest6 <car-dir>   (reads <car-dir>/manifest.csv, writes stdout)
package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: graphsplit-manifest6 <car-dir>")
		os.Exit(2)
	}
	dir := os.Args[1]
	in, err := os.Open(filepath.Join(dir, "manifest.csv"))
	if err != nil {
		fail(err)
	}
	defer in.Close()
	w := csv.NewWriter(os.Stdout)
	w.UseCRLF = true
	if err := w.Write([]string{"playload_cid", "filename", "piece_cid", "payload_size", "piece_size", "detail"}); err != nil {
		fail(err)
	}
	scan := bufio.NewScanner(in)
	scan.Buffer(make([]byte, 1<<20), 64<<20)
	first := true
	for scan.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.SplitN(scan.Text(), ",", 5)
		if len(f) != 5 {
			fail(fmt.Errorf("line %q: fewer than 5 fields", scan.Text()))
		}
		st, err := os.Stat(filepath.Join(dir, f[0]+".car"))
		if err != nil {
			fail(err)
		}
		if err := w.Write([]string{f[0], f[1], f[2], strconv.FormatInt(st.Size(), 10), f[3], f[4]}); err != nil {
			fail(err)
		}
	}
	if err := scan.Err(); err != nil {
		fail(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "graphsplit-manifest6:", err)
	os.Exit(1)
}
