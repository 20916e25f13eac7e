package app

import (
	"os"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// boltCollectors export the embedded store's own counters, read from
// bbolt at each scrape: its read transactions, and the time its commits
// spent writing and syncing pages (the write latency of the store). A
// store error reaches the client as UNAVAILABLE and /readyz as 503; these
// say how busy and how slow the file is.
func boltCollectors(db *bolt.DB) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callverify_bolt_read_transactions_total",
			Help: "Read transactions the embedded store (bbolt) has started.",
		}, func() float64 { return float64(db.Stats().TxN) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_bolt_open_read_transactions",
			Help: "Read transactions of the embedded store open now.",
		}, func() float64 { return float64(db.Stats().OpenTxN) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callverify_bolt_page_writes_total",
			Help: "Page writes of the embedded store's commits.",
		}, func() float64 { s := db.Stats(); return float64(s.TxStats.GetWrite()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "callverify_bolt_write_seconds_total",
			Help: "Seconds the embedded store's commits spent writing and syncing pages to disk.",
		}, func() float64 { s := db.Stats(); return s.TxStats.GetWriteTime().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_bolt_free_pages",
			Help: "Free pages in the embedded store's file (space it reuses before growing).",
		}, func() float64 { return float64(db.Stats().FreePageN) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callverify_bolt_file_bytes",
			Help: "Size of the embedded store's file.",
		}, func() float64 {
			fi, err := os.Stat(db.Path())
			if err != nil {
				return 0
			}
			return float64(fi.Size())
		}),
	}
}
