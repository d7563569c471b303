// franz-data produces and consumes records with franz-go (kgo) for the data-path compatibility
// tests in test/compat. It reads and writes the JSON shapes of test/compat/datapath/records.ts, as
// every other client driven by those tests does.
//
//	franz-data produce -bootstrap B -spec SPEC.jsonl -out OUT.jsonl [-max-bytes N]
//	franz-data consume -bootstrap B -assign ASSIGN.json -out OUT.jsonl [-timeout 30s]
//
// produce sends the SPEC records in order, one client per compression codec (flushed when its turn
// ends, and after a record with "flush": true); OUT gets one result line per record. consume reads
// each assigned partition from `from` up to `until` with kgo.ConsumePartitions (no consumer group)
// and writes one line per record. Keys, values and header values are encoded as null, base64 when
// at most 64 bytes, else "#LENGTH:SHA256HEX".
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const inlineBytesMax = 64

type specRecord struct {
	Topic       string       `json:"topic"`
	Partition   *int32       `json:"partition"`
	Key         *string      `json:"key"`
	Value       *string      `json:"value"`
	Headers     [][2]*string `json:"headers"`
	Timestamp   *int64       `json:"timestamp"`
	Compression string       `json:"compression"`
	Flush       bool         `json:"flush"`
}

type produceResult struct {
	I         int     `json:"i"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Timestamp *int64  `json:"timestamp"`
	Error     *string `json:"error"`
}

type assignment struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	From      int64  `json:"from"`
	Until     int64  `json:"until"`
}

type consumedRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Key           *string      `json:"key"`
	Value         *string      `json:"value"`
	Headers       [][2]*string `json:"headers"`
	Timestamp     int64        `json:"timestamp"`
	TimestampType string       `json:"timestampType"`
	LeaderEpoch   int32        `json:"leaderEpoch"`
}

func encode(b []byte) *string {
	if b == nil {
		return nil
	}
	var s string
	if len(b) <= inlineBytesMax {
		s = base64.StdEncoding.EncodeToString(b)
	} else {
		sum := sha256.Sum256(b)
		s = fmt.Sprintf("#%d:%s", len(b), hex.EncodeToString(sum[:]))
	}
	return &s
}

func decode(s *string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(*s)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode := os.Args[1]
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	bootstrap := flags.String("bootstrap", "", "comma-separated seed brokers")
	specPath := flags.String("spec", "", "records to produce (JSON lines)")
	assignPath := flags.String("assign", "", "partitions to consume (JSON array)")
	outPath := flags.String("out", "", "result file (JSON lines)")
	maxBytes := flags.Int("max-bytes", 3<<20, "largest record batch the producer builds")
	timeout := flags.Duration("timeout", 30*time.Second, "overall deadline")
	_ = flags.Parse(os.Args[2:])
	if *bootstrap == "" || *outPath == "" {
		usage()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	seeds := strings.Split(*bootstrap, ",")
	var err error
	switch {
	case mode == "produce" && *specPath != "":
		err = produce(ctx, seeds, *specPath, *outPath, int32(*maxBytes))
	case mode == "consume" && *assignPath != "":
		err = consume(ctx, seeds, *assignPath, *outPath)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "franz-data:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: franz-data produce -bootstrap B -spec SPEC.jsonl -out OUT.jsonl | consume -bootstrap B -assign ASSIGN.json -out OUT.jsonl")
	os.Exit(2)
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown compression %q", name)
}

func readSpec(path string) ([]specRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []specRecord
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		var r specRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, scanner.Err()
}

func produce(ctx context.Context, seeds []string, specPath, outPath string, maxBytes int32) error {
	spec, err := readSpec(specPath)
	if err != nil {
		return err
	}
	results := make([]produceResult, len(spec))
	// One client per codec and per partitioning: records with a partition go where they say
	// (ManualPartitioner), the others through franz-go's default partitioner.
	clients := map[string]*kgo.Client{}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	var wg sync.WaitGroup
	var previous *kgo.Client
	for i, r := range spec {
		manual := r.Partition != nil
		name := fmt.Sprintf("%s/%v", r.Compression, manual)
		cl := clients[name]
		if cl == nil {
			c, err := codec(r.Compression)
			if err != nil {
				return err
			}
			opts := []kgo.Opt{
				kgo.SeedBrokers(seeds...),
				kgo.ClientID("strait-data-franz-" + r.Compression),
				kgo.ProducerBatchCompression(c),
				kgo.ProducerBatchMaxBytes(maxBytes),
				kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.ProducerLinger(5 * time.Millisecond),
			}
			if manual {
				opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			}
			if cl, err = kgo.NewClient(opts...); err != nil {
				return err
			}
			clients[name] = cl
		}
		if previous != nil && previous != cl {
			if err := previous.Flush(ctx); err != nil {
				return err
			}
		}
		previous = cl
		rec := &kgo.Record{Topic: r.Topic}
		if rec.Key, err = decode(r.Key); err != nil {
			return err
		}
		if rec.Value, err = decode(r.Value); err != nil {
			return err
		}
		for _, h := range r.Headers {
			v, err := decode(h[1])
			if err != nil {
				return err
			}
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: *h[0], Value: v})
		}
		if manual {
			rec.Partition = *r.Partition
		}
		if r.Timestamp != nil {
			rec.Timestamp = time.UnixMilli(*r.Timestamp)
		}
		index := i
		wg.Add(1)
		cl.Produce(ctx, rec, func(rec *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				msg := err.Error()
				results[index] = produceResult{I: index, Partition: rec.Partition, Offset: -1, Error: &msg}
				return
			}
			ts := rec.Timestamp.UnixMilli()
			results[index] = produceResult{I: index, Partition: rec.Partition, Offset: rec.Offset, Timestamp: &ts}
		})
		if r.Flush {
			if err := cl.Flush(ctx); err != nil {
				return err
			}
		}
	}
	for _, cl := range clients {
		if err := cl.Flush(ctx); err != nil {
			return err
		}
	}
	wg.Wait()
	failed := 0
	lines := make([]any, len(results))
	for i, r := range results {
		if r.Error != nil {
			failed++
		}
		lines[i] = r
	}
	if err := writeLines(outPath, lines); err != nil {
		return err
	}
	fmt.Printf("{\"produced\":%d,\"failed\":%d}\n", len(results)-failed, failed)
	return nil
}

func consume(ctx context.Context, seeds []string, assignPath, outPath string) error {
	raw, err := os.ReadFile(assignPath)
	if err != nil {
		return err
	}
	var assign []assignment
	if err := json.Unmarshal(raw, &assign); err != nil {
		return err
	}
	offsets := map[string]map[int32]kgo.Offset{}
	pending := map[string]map[int32]int64{}
	left := 0
	for _, a := range assign {
		if a.From >= a.Until {
			continue
		}
		if offsets[a.Topic] == nil {
			offsets[a.Topic] = map[int32]kgo.Offset{}
			pending[a.Topic] = map[int32]int64{}
		}
		offsets[a.Topic][a.Partition] = kgo.NewOffset().At(a.From)
		pending[a.Topic][a.Partition] = a.Until
		left++
	}
	var lines []any
	if left > 0 {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(seeds...),
			kgo.ClientID("strait-data-franz-consumer"),
			kgo.ConsumePartitions(offsets),
			kgo.FetchMaxPartitionBytes(1<<20),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		if err != nil {
			return err
		}
		defer cl.Close()
		for left > 0 {
			fetches := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return fmt.Errorf("timed out; still waiting for %v", pending)
			}
			var fetchErr error
			fetches.EachError(func(topic string, partition int32, err error) {
				fetchErr = errors.Join(fetchErr, fmt.Errorf("%s[%d]: %w", topic, partition, err))
			})
			if fetchErr != nil {
				return fetchErr
			}
			fetches.EachRecord(func(r *kgo.Record) {
				until, ok := pending[r.Topic][r.Partition]
				if !ok || r.Offset >= until {
					return
				}
				headers := make([][2]*string, 0, len(r.Headers))
				for _, h := range r.Headers {
					key := h.Key
					headers = append(headers, [2]*string{&key, encode(h.Value)})
				}
				tsType := "CreateTime"
				if r.Attrs.TimestampType() == 1 {
					tsType = "LogAppendTime"
				}
				lines = append(lines, consumedRecord{
					Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
					Key: encode(r.Key), Value: encode(r.Value), Headers: headers,
					Timestamp: r.Timestamp.UnixMilli(), TimestampType: tsType, LeaderEpoch: r.LeaderEpoch,
				})
				if r.Offset+1 >= until {
					delete(pending[r.Topic], r.Partition)
					left--
				}
			})
		}
	}
	if err := writeLines(outPath, lines); err != nil {
		return err
	}
	fmt.Printf("{\"consumed\":%d}\n", len(lines))
	return nil
}

func writeLines(path string, lines []any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
