// Reads the first gzip member of a file with Go's compress/gzip (the reader skopeo, umoci and containerd use),
// fails if any byte follows that member, and prints the SHA-256 of what it inflates to as sha256:<hex>.
package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: gunzip-one <file.gz>")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	br := bufio.NewReader(f)
	zr, err := gzip.NewReader(br)
	if err != nil {
		fail("gzip header: %v", err)
	}
	zr.Multistream(false)
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		fail("inflate: %v", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		fail("data follows the first gzip member")
	}
	fmt.Printf("sha256:%x\n", h.Sum(nil))
}
