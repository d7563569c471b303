// franz-groups is a consumer-group member built on franz-go (kgo) for the group compatibility tests
// in test/compat. It joins a group, consumes a topic and commits after every poll, printing one JSON
// event per line in the shape of Apache Kafka's VerifiableConsumer (partitions_assigned,
// partitions_revoked, partitions_lost, records_consumed, offsets_committed), so the tests read every
// client's members the same way. SIGTERM closes the client, which leaves the group.
//
//	franz-groups -bootstrap B -topic T -group G [-session-timeout 6s] [-balancer cooperative-sticky|range|roundrobin|sticky] [-instance-id ID]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type topicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

type consumedPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Count     int    `json:"count"`
	MinOffset int64  `json:"minOffset"`
	MaxOffset int64  `json:"maxOffset"`
}

type committedOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

var outMu sync.Mutex

func emit(name string, fields map[string]any) {
	fields["name"] = name
	fields["timestamp"] = time.Now().UnixMilli()
	b, _ := json.Marshal(fields)
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Println(string(b))
}

func flatten(m map[string][]int32) []topicPartition {
	out := []topicPartition{}
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, topicPartition{t, p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "seed brokers")
	topic := flag.String("topic", "", "topic to consume")
	group := flag.String("group", "", "consumer group id")
	session := flag.Duration("session-timeout", 6*time.Second, "session timeout")
	balancer := flag.String("balancer", "cooperative-sticky", "cooperative-sticky, sticky, range or roundrobin")
	instance := flag.String("instance-id", "", "group.instance.id (static membership)")
	flag.Parse()
	if *topic == "" || *group == "" {
		fmt.Fprintln(os.Stderr, "usage: franz-groups -bootstrap B -topic T -group G")
		os.Exit(2)
	}
	var bal kgo.GroupBalancer
	switch *balancer {
	case "cooperative-sticky":
		bal = kgo.CooperativeStickyBalancer()
	case "sticky":
		bal = kgo.StickyBalancer()
	case "range":
		bal = kgo.RangeBalancer()
	case "roundrobin":
		bal = kgo.RoundRobinBalancer()
	default:
		fmt.Fprintln(os.Stderr, "unknown balancer", *balancer)
		os.Exit(2)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(*bootstrap),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*topic),
		kgo.Balancers(bal),
		kgo.SessionTimeout(*session),
		kgo.HeartbeatInterval(*session / 6),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			emit("partitions_assigned", map[string]any{"partitions": flatten(m)})
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			commit(ctx, cl)
			emit("partitions_revoked", map[string]any{"partitions": flatten(m)})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			emit("partitions_lost", map[string]any{"partitions": flatten(m)})
		}),
	}
	if *instance != "" {
		opts = append(opts, kgo.InstanceID(*instance))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		cancel()
	}()
	emit("startup_complete", map[string]any{})
	for ctx.Err() == nil {
		fetches := cl.PollRecords(ctx, 500)
		if ctx.Err() != nil {
			// A poll holds off rebalances until AllowRebalance; Close (which leaves the group) needs them.
			cl.AllowRebalance()
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			fmt.Fprintf(os.Stderr, "fetch error %s-%d: %v\n", t, p, err)
		})
		parts := map[topicPartition]*consumedPartition{}
		count := 0
		fetches.EachRecord(func(r *kgo.Record) {
			key := topicPartition{r.Topic, r.Partition}
			c := parts[key]
			if c == nil {
				c = &consumedPartition{Topic: r.Topic, Partition: r.Partition, MinOffset: r.Offset, MaxOffset: r.Offset}
				parts[key] = c
			}
			c.Count++
			if r.Offset < c.MinOffset {
				c.MinOffset = r.Offset
			}
			if r.Offset > c.MaxOffset {
				c.MaxOffset = r.Offset
			}
			count++
		})
		if count > 0 {
			list := []consumedPartition{}
			for _, c := range parts {
				list = append(list, *c)
			}
			emit("records_consumed", map[string]any{"count": count, "partitions": list})
			commit(ctx, cl)
		}
		cl.AllowRebalance()
	}
	// Close leaves the group (LeaveGroup), after committing what was consumed.
	commit(context.Background(), cl)
	cl.Close()
	emit("shutdown_complete", map[string]any{})
}

func commit(ctx context.Context, cl *kgo.Client) {
	var offsets []committedOffset
	err := cl.CommitUncommittedOffsets(ctx)
	success := err == nil
	if err != nil {
		fmt.Fprintln(os.Stderr, "commit:", err)
	}
	for t, ps := range cl.CommittedOffsets() {
		for p, o := range ps {
			offsets = append(offsets, committedOffset{t, p, o.Offset})
		}
	}
	if len(offsets) == 0 {
		return
	}
	sort.Slice(offsets, func(i, j int) bool { return offsets[i].Partition < offsets[j].Partition })
	emit("offsets_committed", map[string]any{"offsets": offsets, "success": success})
}
