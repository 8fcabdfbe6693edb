package main

import (
	"context"
	"fmt"
	"io"
)

func notYet(name string) func(context.Context, []string, io.Writer, io.Writer) int {
	return func(_ context.Context, _ []string, _ io.Writer, stderr io.Writer) int {
		fmt.Fprintf(stderr, "codexauth %s: not available in this build yet\n", name)
		return exitUsage
	}
}

var (
	runMint = notYet("mint")
	runKeys = notYet("keys")
)
