// Command genblocklist writes a synthetic blocklist for trying and
// measuring bulk import: unique, valid Chinese mobile numbers, a few
// prefixes, and (optionally) a sprinkling of bad rows of every kind the
// importer must reject and report.
//
//	go run ./scripts/genblocklist -n 1000000 > big.csv
//	callverify blocklist import big.csv
//
// The output is deterministic for a given -seed, so importing it twice
// shows that import is idempotent.
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
)

// Mobile prefixes that libphonenumber accepts with any 8 further digits.
var mobilePrefixes = []int{130, 131, 132, 133, 134, 135, 136, 137, 138, 139,
	150, 151, 152, 153, 155, 156, 157, 158, 159,
	180, 181, 182, 183, 184, 185, 186, 187, 188, 189}

var categories = []string{"CATEGORY_IMPERSONATION", "CATEGORY_SCAM", "CATEGORY_SPAM", "CATEGORY_ROBOCALL", "CATEGORY_OTHER"}

var reasons = []string{
	"posed as platform customer service",
	"refund scam script",
	"asked for bank card and SMS code",
	"robocall campaign",
	"reported by partner carrier",
}

// badRows are the faults the importer must report, one kind after another.
var badRows = []func(i int) []string{
	func(int) []string { return []string{"+8613*", "CATEGORY_SCAM", "prefix too short", "50", ""} },
	func(int) []string { return []string{"12345", "CATEGORY_SCAM", "not a number", "50", ""} },
	func(i int) []string {
		return []string{fmt.Sprintf("+86139%08d", i%1e8), "CATEGORY_NOPE", "unknown category", "50", ""}
	},
	func(i int) []string {
		return []string{fmt.Sprintf("+86139%08d", i%1e8), "CATEGORY_SCAM", "confidence too high", "150", ""}
	},
	func(i int) []string {
		return []string{fmt.Sprintf("+86139%08d", i%1e8), "CATEGORY_SCAM", "bad expiry", "50", "tomorrow"}
	},
	func(i int) []string {
		return []string{fmt.Sprintf("+86139%08d", i%1e8), "CATEGORY_SCAM", strings.Repeat("long ", 120), "50", ""}
	},
	func(int) []string { return []string{"", "CATEGORY_SCAM", "empty pattern", "50", ""} },
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "genblocklist:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("genblocklist", flag.ContinueOnError)
	n := fs.Int("n", 1_000_000, "rows to write (good and bad)")
	prefixes := fs.Int("prefixes", 100, "how many of the good rows are prefixes (+86170xxxx*)")
	bad := fs.Int("bad", 10, "how many rows are bad, spread evenly")
	expiring := fs.Float64("expiring", 0.05, "share of good rows with an expire_time")
	format := fs.String("format", "csv", "csv or ndjson")
	seed := fs.Uint64("seed", 1, "changes which numbers are drawn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 || *bad < 0 || *prefixes < 0 || *bad+*prefixes > *n || *prefixes > 10000 {
		return errors.New("need 0 <= bad + prefixes <= n and prefixes <= 10000")
	}
	if *format != "csv" && *format != "ndjson" {
		return fmt.Errorf("-format %q is not csv or ndjson", *format)
	}
	w := bufio.NewWriterSize(stdout, 1<<20)
	var emit func(rec []string) error
	var cw *csv.Writer
	if *format == "csv" {
		cw = csv.NewWriter(w)
		if err := cw.Write([]string{"pattern", "category", "reason", "confidence", "expire_time"}); err != nil {
			return err
		}
		emit = func(rec []string) error { return cw.Write(rec) }
	} else {
		enc := json.NewEncoder(w)
		emit = func(rec []string) error {
			m := map[string]any{"pattern": rec[0], "category": rec[1], "reason": rec[2]}
			if c, err := strconv.Atoi(rec[3]); err == nil {
				m["confidence"] = c
			}
			if rec[4] != "" {
				m["expireTime"] = rec[4]
			}
			return enc.Encode(m)
		}
	}

	// A multiplication modulo the size of the number space, by a factor
	// coprime to it, visits every number once: unique rows, no memory.
	space := uint64(len(mobilePrefixes)) * 100_000_000
	mult := uint64(2654435761)
	for new(big.Int).GCD(nil, nil, new(big.Int).SetUint64(mult), new(big.Int).SetUint64(space)).Uint64() != 1 {
		mult += 2
	}
	offset := (*seed * 0x9E3779B97F4A7C15) % space

	badEvery := 0
	if *bad > 0 {
		badEvery = *n / *bad
	}
	good, badDone := 0, 0
	for i := range *n {
		var rec []string
		switch {
		case badEvery > 0 && badDone < *bad && i%badEvery == badEvery/2:
			rec = badRows[badDone%len(badRows)](i)
			badDone++
		case good < *prefixes:
			rec = []string{fmt.Sprintf("+86170%04d*", (uint64(good)*7919+*seed)%10000), categories[good%len(categories)],
				"virtual operator range", "60", ""}
			good++
		default:
			x := (uint64(good)*mult + offset) % space
			num := fmt.Sprintf("+86%d%08d", mobilePrefixes[x/100_000_000], x%100_000_000)
			exp := ""
			if *expiring > 0 && float64(good%1000) < *expiring*1000 {
				exp = "2030-01-01T00:00:00Z"
			}
			rec = []string{num, categories[good%len(categories)], reasons[good%len(reasons)], strconv.Itoa(50 + good%51), exp}
			good++
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
	if cw != nil {
		if cw.Flush(); cw.Error() != nil {
			return cw.Error()
		}
	}
	return w.Flush()
}
