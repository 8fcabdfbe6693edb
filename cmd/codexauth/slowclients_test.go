package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/codexauth/codexauth/harness/wire"
)

// rawPost writes a whole request — headers and body — before reading a
// byte of the answer, as many clients do (Python's urllib, most scripts):
// if the server closes while such a client is still sending, the client sees
// a connection reset instead of the answer. It returns the status and body.
func rawPost(addr, path, contentType string, body []byte, chunked bool) (int, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	// A small send buffer, as over a real network: the kernel cannot take
	// the whole body at once, so the client is still sending when a server
	// that stopped reading closes.
	_ = conn.(*net.TCPConn).SetWriteBuffer(32 << 10)
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	hdr := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n", path, addr, contentType)
	if chunked {
		hdr += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		hdr += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
	}
	w := bufio.NewWriterSize(conn, 64<<10)
	_, _ = w.WriteString(hdr)
	if chunked {
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 32<<10)
			fmt.Fprintf(w, "%x\r\n", n)
			_, _ = w.Write(rest[:n])
			_, _ = w.WriteString("\r\n")
			rest = rest[n:]
		}
		_, _ = w.WriteString("0\r\n\r\n")
	} else {
		_, _ = w.Write(body)
	}
	if err := w.Flush(); err != nil {
		return 0, nil, fmt.Errorf("sending the body: %w", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// TestOversizeBodyAlwaysGets413 is the battery case "2 MiB body": 200 runs
// against `codexauth serve --store memory` over loopback, alternating the
// token and device-token endpoints, JSON and form, declared length and
// chunked. Every run must read a 413 invalid_request JSON answer — never a
// reset, which is what a server that stops reading at its limit and closes
// produces.
func TestOversizeBodyAlwaysGets413(t *testing.T) {
	p := startServe(t, "127.0.0.1:0", "--store", "memory")
	addr := strings.TrimPrefix(p.URL, "http://")
	big := strings.Repeat("a", 2<<20)
	bodies := map[string][]byte{
		"application/json":                  []byte(`{"grant_type":"refresh_token","refresh_token":"` + big + `"}`),
		"application/x-www-form-urlencoded": []byte("grant_type=refresh_token&refresh_token=" + big),
	}
	paths := []string{"/oauth/token", "/api/accounts/deviceauth/token"}
	cts := []string{"application/json", "application/x-www-form-urlencoded"}
	const runs, workers = 200, 10
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < runs; i += workers {
				path, ct, chunked := paths[i%2], cts[(i/2)%2], i%8 >= 6
				status, body, err := rawPost(addr, path, ct, bodies[ct], chunked)
				var e struct{ Error string }
				var outcome string
				switch {
				case errors.Is(err, syscall.ECONNRESET):
					outcome = "connection reset"
				case errors.Is(err, syscall.EPIPE):
					outcome = "broken pipe while sending"
				case err != nil:
					outcome = "transport error"
					t.Logf("run %d: %v", i, err)
				case status != http.StatusRequestEntityTooLarge:
					outcome = fmt.Sprintf("status %d", status)
				case json.Unmarshal(body, &e) != nil || e.Error != "invalid_request":
					outcome = "413 without an invalid_request JSON body"
					t.Logf("run %d: %s", i, body)
				default:
					outcome = "413 invalid_request"
				}
				mu.Lock()
				got[outcome]++
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	t.Logf("2 MiB body, %d runs: %v", runs, got)
	if got["413 invalid_request"] != runs {
		t.Fatalf("only %d of %d runs read the 413: %v", got["413 invalid_request"], runs, got)
	}
	// The issuer still answers afterwards.
	if ex := wire.NewClient(p.URL, "").Get(context.Background(), "/healthz", nil); ex.Status != 200 {
		t.Fatalf("/healthz after the oversize battery: %s", ex)
	}
}

// TestSlowClientsLeaveIssuerServing keeps 500 slowloris connections
// (headers trickling in a byte at a time, reconnecting when closed) and 50
// slow-body ones open against `codexauth serve`: meanwhile /healthz answers
// and a device login and a refresh succeed. Every slow-header connection is
// closed by the issuer and every slow body answered 408 (RFC 9110 §15.5.9).
func TestSlowClientsLeaveIssuerServing(t *testing.T) {
	p := startServe(t, "127.0.0.1:0", "--store", "memory", "--admin-token", replicaAdmin,
		"--read-header-timeout", "3s", "--read-timeout", "3s")
	addr := strings.TrimPrefix(p.URL, "http://")
	ctx := context.Background()

	const slowHeaders, slowBodies = 500, 50
	var stop atomic.Bool
	var mu sync.Mutex
	counts := map[string]int{}
	record := func(k string) { mu.Lock(); counts[k]++; mu.Unlock() }
	// one slow connection until the issuer ends it; false if none opened.
	one := func(slowBody bool, opened func()) {
		kind := "slow headers"
		head := "POST /oauth/token HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: "
		if slowBody {
			kind = "slow body"
			head = "POST /oauth/token HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
		}
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			opened()
			record(kind + ": dial: " + err.Error())
			return
		}
		defer conn.Close()
		// A liveness guard, not a timing assertion: the issuer must end the
		// connection itself, long before this.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		_, _ = conn.Write([]byte(head))
		opened()
		answered := make(chan string, 1)
		go func() {
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			switch {
			case err == nil:
				res.Body.Close()
				answered <- fmt.Sprintf("answered %d", res.StatusCode)
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
				answered <- "closed by the issuer"
			default:
				answered <- err.Error()
			}
		}()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case o := <-answered:
				record(kind + ": " + o)
				return
			case <-tick.C:
				_, _ = conn.Write([]byte("a")) // one more byte, never the end
			}
		}
	}
	var opened, done sync.WaitGroup
	opened.Add(slowHeaders + slowBodies)
	for i := 0; i < slowHeaders+slowBodies; i++ {
		done.Add(1)
		go func(slowBody bool) {
			defer done.Done()
			var once sync.Once
			for first := true; first || !stop.Load(); first = false {
				one(slowBody, func() { once.Do(opened.Done) })
			}
		}(i >= slowHeaders)
	}
	opened.Wait()

	// Everyone else is served while the slow clients hold their connections.
	c := wire.NewClient(p.URL, "")
	for i := 0; i < 20; i++ {
		if ex := c.Get(ctx, "/healthz", nil); ex.Status != 200 {
			t.Fatalf("/healthz with %d slow connections open: %s", slowHeaders+slowBodies, ex)
		}
	}
	rt := login(t, ctx, p)
	if ex := c.Refresh(ctx, rt, "proactive_expiry"); ex.Status != 200 {
		t.Fatalf("refresh with slow connections open: %s", ex)
	}
	stop.Store(true)
	done.Wait()

	t.Logf("slow connections: %v", counts)
	for k, n := range counts {
		if k != "slow headers: closed by the issuer" && k != "slow body: answered 408" {
			t.Errorf("%d slow connections ended otherwise: %s", n, k)
		}
	}
	if counts["slow headers: closed by the issuer"] < slowHeaders || counts["slow body: answered 408"] < slowBodies {
		t.Errorf("want every one of %d slow-header connections closed and %d slow bodies answered 408: %v", slowHeaders, slowBodies, counts)
	}
	if ex := c.Get(ctx, "/healthz", nil); ex.Status != 200 {
		t.Fatalf("/healthz after the slow clients: %s", ex)
	}
}
