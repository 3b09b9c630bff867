// azs-prober: a bounded API availability prober for the testbed.
//
// It sends GET requests to one URL (the apiserver through the load balancer) at a fixed
// rate for a fixed duration, then stops by itself. Every second it appends one JSON line
// (successes, failures, latency) to -out; at the end it writes a JSON summary to -summary
// and stdout. Targets are restricted to the addresses in -allow (testbed subnet, loopback).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type result struct {
	sec     int
	ok      bool
	started time.Time
	local   *localAddr
	latency time.Duration
	err     string
	detail  string // the error as returned, for the samples
}

// failure is one failed request, with what it takes to explain it afterwards: when it was sent,
// from which local address (the balancer logs each connection with its client address and the
// backend it chose), and the error.
type failure struct {
	Started   string  `json:"started"`
	Second    int     `json:"second"`
	Local     string  `json:"local,omitempty"`
	LatencyMs float64 `json:"latency_ms"`
	Error     string  `json:"error"`
}

// maxFailures bounds the summary's list of failures.
const maxFailures = 200

type localAddrKey struct{}

// localAddr holds a request's connection's local address; the dial may outlive a timed-out request.
type localAddr struct {
	mu   sync.Mutex
	addr string
}

func (l *localAddr) set(a string) { l.mu.Lock(); l.addr = a; l.mu.Unlock() }
func (l *localAddr) get() string  { l.mu.Lock(); defer l.mu.Unlock(); return l.addr }

type second struct {
	Second int            `json:"second"`
	Time   string         `json:"time"`
	OK     int            `json:"ok"`
	Fail   int            `json:"fail"`
	P50ms  float64        `json:"p50_ms"`
	P99ms  float64        `json:"p99_ms"`
	MaxMs  float64        `json:"max_ms"`
	Errors map[string]int `json:"errors,omitempty"`
	lat    []time.Duration
}

type summary struct {
	URL             string         `json:"url"`
	Rate            float64        `json:"rate"`
	DurationS       float64        `json:"duration_s"`
	Total           int            `json:"total"`
	OK              int            `json:"ok"`
	Fail            int            `json:"fail"`
	SuccessRatio    float64        `json:"success_ratio"`
	P50ms           float64        `json:"p50_ms"`
	P95ms           float64        `json:"p95_ms"`
	P99ms           float64        `json:"p99_ms"`
	MaxMs           float64        `json:"max_ms"`
	SecondsWithFail int            `json:"seconds_with_failures"`
	LongestOutageS  int            `json:"longest_failure_streak_s"`
	FirstFailSecond int            `json:"first_failure_second"`
	LastFailSecond  int            `json:"last_failure_second"`
	Errors          map[string]int `json:"errors,omitempty"`
	ErrorSamples    []string       `json:"error_samples,omitempty"` // the first failures, time and message
	Failures        []failure      `json:"failures,omitempty"`      // the first maxFailures failures, each with its local address
	Started         string         `json:"started"`
	Finished        string         `json:"finished"`
}

func pct(l []time.Duration, p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}

func allowed(host string, cidrs string) error {
	ips, err := net.LookupIP(host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		ok := false
		for _, c := range strings.Split(cidrs, ",") {
			_, n, err := net.ParseCIDR(strings.TrimSpace(c))
			if err != nil {
				return err
			}
			if n.Contains(ip) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("target %s (%s) is outside the allowed ranges %s", host, ip, cidrs)
		}
	}
	return nil
}

func classify(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "timeout", "deadline exceeded", "EOF", "certificate", "tls", "no route"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

func main() {
	target := flag.String("url", "https://10.240.255.4/api/v1/namespaces/kube-system", "URL to GET")
	caFile := flag.String("ca", "", "CA bundle to verify the server")
	certFile := flag.String("cert", "", "client certificate")
	keyFile := flag.String("key", "", "client key")
	rate := flag.Float64("rate", 20, "requests per second (max 200)")
	duration := flag.Duration("duration", 30*time.Second, "how long to probe (max 2h)")
	timeout := flag.Duration("timeout", 2*time.Second, "per-request timeout")
	out := flag.String("out", "", "per-second JSON lines file (default: none)")
	sumFile := flag.String("summary", "", "summary JSON file (default: stdout only)")
	allow := flag.String("allow", "10.240.255.0/24,127.0.0.0/8", "comma-separated CIDRs the target must be in")
	keepAlive := flag.Bool("keepalive", false, "reuse connections (default: a new TLS connection per request)")
	insecure := flag.Bool("insecure", false, "skip server certificate verification (default verifies with -ca)")
	strict := flag.Bool("strict", false, "exit 2 if any request failed")
	flag.Parse()

	if *rate <= 0 || *rate > 200 || *duration <= 0 || *duration > 2*time.Hour || *timeout <= 0 || *timeout > time.Minute {
		fmt.Fprintln(os.Stderr, "azs-prober: rate must be in (0,200], duration in (0,2h], timeout in (0,1m]")
		os.Exit(1)
	}
	u, err := url.Parse(*target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azs-prober:", err)
		os.Exit(1)
	}
	if err := allowed(u.Hostname(), *allow); err != nil {
		fmt.Fprintln(os.Stderr, "azs-prober:", err)
		os.Exit(1)
	}

	// The CA bundle is re-read for every connection (like the client certificate below), so the
	// prober follows a rotation of the cluster's files instead of failing on stale trust.
	tlsCfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // verified in VerifyConnection
	if !*insecure {
		if *caFile == "" {
			fmt.Fprintln(os.Stderr, "azs-prober: -ca is required (or -insecure)")
			os.Exit(1)
		}
		ca := *caFile
		tlsCfg.VerifyConnection = func(cs tls.ConnectionState) error {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
				DNSName: cs.ServerName})
			return err
		}
	}
	if *certFile != "" {
		// Re-read the client cert on every handshake, so a rotation of the files is picked up.
		cf, kf := *certFile, *keyFile
		// The two files are renamed one after the other: a read between the renames sees a new
		// certificate with the old key. A client holding one kubeconfig never sees that, so the
		// pair is read again (bounded) instead of counting a failure the cluster did not cause.
		tlsCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			var c tls.Certificate
			var err error
			for attempt := 0; attempt < 5; attempt++ {
				if c, err = tls.LoadX509KeyPair(cf, kf); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			return &c, err
		}
	}
	dialer := &net.Dialer{Timeout: *timeout}
	tr := &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: !*keepAlive, Proxy: nil,
		MaxIdleConnsPerHost: 64, TLSHandshakeTimeout: *timeout,
		// notes the connection's local address in the request's context (see failure)
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if local, ok := ctx.Value(localAddrKey{}).(*localAddr); ok && err == nil {
				local.set(c.LocalAddr().String())
			}
			return c, err
		}}
	client := &http.Client{Transport: tr, Timeout: *timeout}

	var outF *os.File
	if *out != "" {
		if outF, err = os.Create(*out); err != nil {
			fmt.Fprintln(os.Stderr, "azs-prober:", err)
			os.Exit(1)
		}
		defer outF.Close()
	}

	start := time.Now()
	nSeconds := int((*duration + time.Second - 1) / time.Second)
	secs := make([]*second, nSeconds+1)
	for i := range secs {
		secs[i] = &second{Second: i, Time: start.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339), Errors: map[string]int{}}
	}
	results := make(chan result, 1024)
	var wg sync.WaitGroup
	// SIGINT/SIGTERM end the run early with a complete summary (a benchmark stops it when its work is done).
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(sigCtx, *duration)
	defer cancel()
	// A prober whose parent died (a killed test run) must not load the next run's testbed for the
	// rest of its duration: it stops once it is re-parented.
	go func(parent int) {
		for ctx.Err() == nil && os.Getppid() == parent {
			time.Sleep(time.Second)
		}
		cancel()
	}(os.Getppid())

	go func() { // issue requests at the set rate until the duration is over
		interval := time.Duration(float64(time.Second) / *rate)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				wg.Wait()
				close(results)
				return
			case now := <-tick.C:
				sec := int(now.Sub(start) / time.Second)
				if sec >= nSeconds {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					t0 := time.Now()
					r := result{sec: sec, started: t0, local: &localAddr{}}
					req, err := http.NewRequestWithContext(context.WithValue(context.Background(), localAddrKey{}, r.local), http.MethodGet, *target, nil)
					if err != nil {
						panic(err) // the URL was parsed above
					}
					resp, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
						resp.Body.Close()
						if resp.StatusCode == 200 {
							r.ok = true
						} else {
							r.err = fmt.Sprintf("HTTP %d", resp.StatusCode)
						}
					} else {
						r.err = classify(err)
						r.detail = err.Error()
					}
					r.latency = time.Since(t0)
					results <- r
				}()
			}
		}
	}()

	written := 0
	flush := func(upto int) {
		for ; written < upto && written < nSeconds; written++ {
			s := secs[written]
			s.P50ms, s.P99ms, s.MaxMs = pct(s.lat, 0.5), pct(s.lat, 0.99), pct(s.lat, 1)
			if outF != nil {
				b, _ := json.Marshal(s)
				fmt.Fprintln(outF, string(b))
			}
		}
	}
	lag := int(*timeout/time.Second) + 2
	flushTick := time.NewTicker(time.Second)
	defer flushTick.Stop()
	var all []time.Duration
	sum := summary{URL: *target, Rate: *rate, DurationS: duration.Seconds(), Errors: map[string]int{},
		FirstFailSecond: -1, LastFailSecond: -1, Started: start.UTC().Format(time.RFC3339)}
loop:
	for {
		select {
		case r, ok := <-results:
			if !ok {
				break loop
			}
			s := secs[r.sec]
			s.lat = append(s.lat, r.latency)
			all = append(all, r.latency)
			if r.ok {
				s.OK++
			} else {
				s.Fail++
				s.Errors[r.err]++
				if len(sum.Failures) < maxFailures {
					sum.Failures = append(sum.Failures, failure{Started: r.started.UTC().Format(time.RFC3339Nano), Second: r.sec,
						Local: r.local.get(), LatencyMs: float64(r.latency.Microseconds()) / 1000, Error: r.err})
				}
				sum.Errors[r.err]++
				if len(sum.ErrorSamples) < 10 {
					detail := r.detail
					if detail == "" {
						detail = r.err
					}
					if len(detail) > 300 {
						detail = detail[:300]
					}
					sum.ErrorSamples = append(sum.ErrorSamples, s.Time+" (second "+fmt.Sprint(r.sec)+"): "+detail)
				}
			}
		case <-flushTick.C:
			flush(int(time.Since(start)/time.Second) - lag)
		}
	}
	flush(nSeconds)

	streak := 0
	for _, s := range secs[:nSeconds] {
		sum.Total += s.OK + s.Fail
		sum.OK += s.OK
		sum.Fail += s.Fail
		if s.Fail > 0 {
			sum.SecondsWithFail++
			streak++
			if streak > sum.LongestOutageS {
				sum.LongestOutageS = streak
			}
			if sum.FirstFailSecond < 0 {
				sum.FirstFailSecond = s.Second
			}
			sum.LastFailSecond = s.Second
		} else {
			streak = 0
		}
	}
	if sum.Total > 0 {
		sum.SuccessRatio = float64(sum.OK) / float64(sum.Total)
	}
	sum.P50ms, sum.P95ms, sum.P99ms, sum.MaxMs = pct(all, 0.5), pct(all, 0.95), pct(all, 0.99), pct(all, 1)
	sum.Finished = time.Now().UTC().Format(time.RFC3339)
	b, _ := json.MarshalIndent(sum, "", "  ")
	fmt.Println(string(b))
	if *sumFile != "" {
		_ = os.WriteFile(*sumFile, append(b, '\n'), 0o644)
	}
	if *strict && sum.Fail > 0 {
		os.Exit(2)
	}
}
