package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Record is a Result as one line of a record file (JSON lines), for
// scripts and charts: one per run, with its label and target.
type Record struct {
	Label       string  `json:"label"`  // what ran: "bookshop", "minimal grpc-go", ...
	Target      string  `json:"target"` // recommend, home, checkout, ...
	Concurrency int     `json:"concurrency"`
	Calls       int64   `json:"calls"`
	Errors      int64   `json:"errors"`
	Items       int64   `json:"items"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"calls_per_s"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	P999        float64 `json:"p999_ms"`
	Max         float64 `json:"max_ms"`
	// PartP50 and PartP99 are the percentiles of the part of each call
	// that a PartTimer's workers time on its own; absent for others.
	PartP50 float64 `json:"part_p50_ms,omitempty"`
	PartP99 float64 `json:"part_p99_ms,omitempty"`
	// ServerCPU is the CPU time the servers under load used per call, in
	// microseconds, when the run measured it (Options.ServerCPU); absent
	// otherwise.
	ServerCPU float64 `json:"server_cpu_us,omitempty"`
	// ServerAllocBytes and ServerAllocs are the bytes and the objects the
	// servers under load allocated per call, when the run measured them
	// (Options.ServerAllocs); absent otherwise.
	ServerAllocBytes float64 `json:"server_alloc_bytes,omitempty"`
	ServerAllocs     float64 `json:"server_alloc_objects,omitempty"`
}

// NewRecord returns the record of r, a run of target labelled label.
func NewRecord(label, target string, r *Result) Record {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	rec := Record{
		Label:       label,
		Target:      target,
		Concurrency: r.Concurrency,
		Calls:       r.Calls,
		Errors:      r.Errors,
		Items:       r.Items,
		Seconds:     r.Elapsed.Seconds(),
		Rate:        r.Rate(),
		P50:         ms(r.Percentile(50)),
		P90:         ms(r.Percentile(90)),
		P99:         ms(r.Percentile(99)),
		P999:        ms(r.Percentile(99.9)),
		Max:         ms(r.Max()),
	}
	if r.Part != nil {
		rec.PartP50, rec.PartP99 = ms(r.PartPercentile(50)), ms(r.PartPercentile(99))
	}
	if d := r.ServerCPUPerCall(); d > 0 {
		rec.ServerCPU = float64(d.Nanoseconds()) / 1000
	}
	rec.ServerAllocBytes, rec.ServerAllocs = r.ServerAllocsPerCall()
	return rec
}

// WriteRecord writes rec to w as one line of JSON.
func WriteRecord(w io.Writer, rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadRecords reads the records of a record file, in order.
func ReadRecords(r io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("record line %d: %w", line, err)
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}
