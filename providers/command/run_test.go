package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func lines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestTail(t *testing.T) {
	got := tail(lines(1, 100), 40, 1<<20)
	if !strings.HasPrefix(got, "line 61\n") || !strings.HasSuffix(got, "line 100") || strings.Count(got, "\n") != 39 {
		t.Errorf("tail of 100 lines:\n%s", got)
	}
	if got := tail("a\nb\n", 40, 1<<20); got != "a\nb" {
		t.Errorf("short: %q", got)
	}
	if got := tail("", 40, 100); got != "" {
		t.Errorf("empty: %q", got)
	}
	if got := tail(strings.Repeat("x", 1000), 40, 100); len(got) != 103 || !strings.HasPrefix(got, "...") {
		t.Errorf("byte cap: %d %q", len(got), got[:10])
	}
}

func TestOutputTailByLogging(t *testing.T) {
	stdout, stderr := "OUT-1\nOUT-2", lines(1, 50)+"ERR-LAST"
	cases := map[string]struct{ out, err bool }{
		"stdoutAndStderr": {true, true},
		"stdout":          {true, false},
		"stderr":          {false, true},
		"none":            {false, false},
	}
	for logging, want := range cases {
		got := outputTail(logging, stdout, stderr)
		if strings.Contains(got, "OUT-2") != want.out {
			t.Errorf("%s: stdout shown = %v:\n%s", logging, !want.out, got)
		}
		if strings.Contains(got, "ERR-LAST") != want.err {
			t.Errorf("%s: stderr shown = %v:\n%s", logging, !want.err, got)
		}
		if want.err && (strings.Contains(got, "line 10\n") || !strings.Contains(got, "line 12\n")) {
			t.Errorf("%s: stderr not cut to the last 40 lines:\n%s", logging, got)
		}
		if !want.out && !want.err && !strings.Contains(got, `logging is "none"`) {
			t.Errorf("none: no explanation:\n%s", got)
		}
	}
	if got := outputTail("stdoutAndStderr", "", ""); !strings.Contains(got, "stderr: (empty)") {
		t.Errorf("empty output: %s", got)
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{emit: func(s string) { got = append(got, s) }}
	for _, chunk := range []string{"one\ntw", "o\r\n", "", "three\nfour"} {
		w.Write([]byte(chunk))
	}
	w.flush()
	if want := []string{"one", "two", "three", "four"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if w.String() != "one\ntwo\r\nthree\nfour" {
		t.Errorf("captured %q", w.String())
	}
	quiet := &lineWriter{}
	quiet.Write([]byte("x\ny\n"))
	quiet.flush()
	if quiet.String() != "x\ny\n" {
		t.Errorf("capture only: %q", quiet.String())
	}
}

func TestCommandLabelAndRetryDelay(t *testing.T) {
	if got := commandLabel(optString{val: "rm -rf /tmp/x", set: true, secret: true}); got != "[secret]" {
		t.Errorf("secret command shown: %s", got)
	}
	if got := commandLabel(optString{val: "echo hi", set: true}); got != `"echo hi"` {
		t.Errorf("label %s", got)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := retryDelay(i + 1); got != w {
			t.Errorf("retryDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
}
