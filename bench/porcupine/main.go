// porcupine-bench: times Porcupine (github.com/anishathalye/porcupine) on
// Jepsen etcd logs, for bench/check-vs-porcupine.sh. edgelab's own code: the
// script builds it against a Porcupine checkout given on its command line
// (a `replace` in a generated go.mod), nothing is vendored.
//
// Parsing follows the rules of parseJepsenLog in Porcupine's
// porcupine_test.go, so both checkers see the history its tests see: old
// format lines `INFO  jepsen.util - P\t:type\t:f\tvalue`; :invoke of
// read/write/cas, :ok of read/write/cas, :fail of cas, :fail :read
// :timed-out (unknown); any other line (:info, the nemesis) is skipped, and
// every op still open at the end gets an unknown return after the last
// event. The model is the one of that file (etcdModel): state -1000000 is
// nil; a failed cas asserts the value differs from its old; an unknown
// op is always allowed.
//
// Usage: porcupine-bench [-min-ms N] [-timeout S] [-hash] [-verbose] FILE...
// Prints one tab-separated line per file:
//
//	file  verdict  ops  parse_us  check_us  verbose_us
//
// check_us is CheckEventsTimeout (verdict only); verbose_us, with -verbose
// ("-" without), CheckEventsVerbose (verdict and partial linearizations,
// what a report of a violation needs); each is the median of as many runs
// as fit in -min-ms (at least 3, unless they take over a second). Parsing
// is timed once, apart, and is not in either. A check that runs past
// -timeout seconds is `unknown`.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

const nilValue = -1000000

type input struct {
	op   uint8 // 0 read, 1 write, 2 cas
	arg1 int   // write value, cas old
	arg2 int   // cas new
}

type output struct {
	ok      bool // cas
	exists  bool // read: false is nil
	value   int  // read
	unknown bool // timed out or never completed
}

func step(state, in, out interface{}) (bool, interface{}) {
	st := state.(int)
	i := in.(input)
	o := out.(output)
	switch i.op {
	case 0:
		return o.unknown || (!o.exists && st == nilValue) || (o.exists && st == o.value), state
	case 1:
		return true, i.arg1
	default:
		next := st
		if i.arg1 == st {
			next = i.arg2
		}
		return o.unknown || (i.arg1 == st) == o.ok, next
	}
}

func model(hash bool) porcupine.Model {
	m := porcupine.Model{
		Init: func() interface{} { return nilValue },
		Step: step,
	}
	if hash {
		m.Hash = func(s interface{}) uint64 { return uint64(s.(int)) * 0x9e3779b97f4a7c15 }
	}
	return m
}

var (
	prefix      = `^INFO\s+jepsen\.util\s+-\s+(\d+)\s+`
	invokeRead  = regexp.MustCompile(prefix + `:invoke\s+:read\s+nil$`)
	invokeWrite = regexp.MustCompile(prefix + `:invoke\s+:write\s+(\d+)$`)
	invokeCas   = regexp.MustCompile(prefix + `:invoke\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	okRead      = regexp.MustCompile(prefix + `:ok\s+:read\s+(nil|\d+)$`)
	okWrite     = regexp.MustCompile(prefix + `:ok\s+:write\s+(\d+)$`)
	doneCas     = regexp.MustCompile(prefix + `:(ok|fail)\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	timeoutRead = regexp.MustCompile(prefix + `:fail\s+:read\s+:timed-out$`)
)

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return v
}

type parser struct {
	events []porcupine.Event
	open   map[int]int // process -> id of its open op
	next   int
}

func (p *parser) call(proc int, in input) {
	p.events = append(p.events, porcupine.Event{ClientId: proc, Kind: porcupine.CallEvent, Value: in, Id: p.next})
	p.open[proc] = p.next
	p.next++
}

func (p *parser) ret(proc int, out output) {
	id, ok := p.open[proc]
	if !ok {
		panic(fmt.Sprintf("return on process %d with nothing open", proc))
	}
	delete(p.open, proc)
	p.events = append(p.events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: out, Id: id})
}

func parse(text string) (events []porcupine.Event, ops int) {
	p := parser{open: map[int]int{}}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if m := invokeRead.FindStringSubmatch(line); m != nil {
			p.call(atoi(m[1]), input{op: 0})
		} else if m := invokeWrite.FindStringSubmatch(line); m != nil {
			p.call(atoi(m[1]), input{op: 1, arg1: atoi(m[2])})
		} else if m := invokeCas.FindStringSubmatch(line); m != nil {
			p.call(atoi(m[1]), input{op: 2, arg1: atoi(m[2]), arg2: atoi(m[3])})
		} else if m := okRead.FindStringSubmatch(line); m != nil {
			o := output{}
			if m[2] != "nil" {
				o = output{exists: true, value: atoi(m[2])}
			}
			p.ret(atoi(m[1]), o)
		} else if m := okWrite.FindStringSubmatch(line); m != nil {
			p.ret(atoi(m[1]), output{})
		} else if m := doneCas.FindStringSubmatch(line); m != nil {
			p.ret(atoi(m[1]), output{ok: m[2] == "ok"})
		} else if m := timeoutRead.FindStringSubmatch(line); m != nil {
			p.ret(atoi(m[1]), output{unknown: true})
		}
	}
	// Sorted, so that the event list (and the search) is the same every run.
	var open []int
	for proc := range p.open {
		open = append(open, proc)
	}
	sort.Ints(open)
	for _, proc := range open {
		p.ret(proc, output{unknown: true})
	}
	return p.events, p.next
}

// median runs f as often as fits in minDur, and at least 3 times unless
// that takes over a second, and returns the median duration and f's last
// result.
func median(minDur time.Duration, f func() porcupine.CheckResult) (time.Duration, porcupine.CheckResult) {
	var times []time.Duration
	var res porcupine.CheckResult
	start := time.Now()
	for (len(times) < 3 && time.Since(start) < time.Second) || time.Since(start) < minDur {
		t := time.Now()
		res = f()
		times = append(times, time.Since(t))
		if len(times) >= 10000 {
			break
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2], res
}

func main() {
	minMs := flag.Int("min-ms", 50, "time each checker on a file for at least this long")
	timeout := flag.Float64("timeout", 60, "seconds before a check gives up (unknown)")
	hash := flag.Bool("hash", false, "give the model a state hash (Model.Hash)")
	verbose := flag.Bool("verbose", false, "also time CheckEventsVerbose")
	flag.Parse()
	m := model(*hash)
	limit := time.Duration(*timeout * float64(time.Second))
	minDur := time.Duration(*minMs) * time.Millisecond
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		t := time.Now()
		events, ops := parse(string(data))
		parseDur := time.Since(t)
		check, res := median(minDur, func() porcupine.CheckResult {
			return porcupine.CheckEventsTimeout(m, events, limit)
		})
		verboseUs := "-"
		if *verbose {
			d, vres := median(minDur, func() porcupine.CheckResult {
				r, _ := porcupine.CheckEventsVerbose(m, events, limit)
				return r
			})
			verboseUs = fmt.Sprintf("%.1f", us(d))
			if vres != res {
				fmt.Fprintf(os.Stderr, "%s: CheckEventsVerbose says %v, CheckEventsTimeout %v\n", file, vres, res)
			}
		}
		verdict := map[porcupine.CheckResult]string{
			porcupine.Ok: "linearizable", porcupine.Illegal: "not-linearizable", porcupine.Unknown: "unknown",
		}[res]
		fmt.Printf("%s\t%s\t%d\t%.1f\t%.1f\t%s\n", file, verdict, ops,
			us(parseDur), us(check), verboseUs)
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
