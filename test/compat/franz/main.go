// franz-client drives a broker with franz-go's admin client (kadm) and prints one JSON summary
// that the compatibility tests compare across clients and brokers.
//
//	franz-client -bootstrap 127.0.0.1:9092 -topic t1 [-partitions 3] [-timeout 60s] admin-flow
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type partitionSummary struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	Isr       []int32 `json:"isr"`
}

type apiVersionsSummary struct {
	Metadata     bool `json:"metadata"`
	CreateTopics bool `json:"createTopics"`
	DeleteTopics bool `json:"deleteTopics"`
}

// summary is the normalised shape every client flow prints (see test/compat/flows.ts).
type summary struct {
	Client               string              `json:"client"`
	Topic                string              `json:"topic"`
	ClusterID            *string             `json:"clusterId"`
	Brokers              []int32             `json:"brokers"`
	APIVersions          *apiVersionsSummary `json:"apiVersions"`
	CreatedPartitions    int32               `json:"createdPartitions"`
	ListedAfterCreate    bool                `json:"listedAfterCreate"`
	HasTopicID           *bool               `json:"hasTopicId"`
	Partitions           []partitionSummary  `json:"partitions"`
	DuplicateCreateError *string             `json:"duplicateCreateError"`
	PresentAfterDelete   bool                `json:"presentAfterDelete"`
	DeleteMissingError   *string             `json:"deleteMissingError"`
}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "comma-separated seed brokers")
	topic := flag.String("topic", "", "topic to create and delete")
	partitions := flag.Int("partitions", 3, "partition count")
	timeout := flag.Duration("timeout", 60*time.Second, "overall deadline")
	flag.Parse()
	if flag.NArg() != 1 || flag.Arg(0) != "admin-flow" || *topic == "" {
		fmt.Fprintln(os.Stderr, "usage: franz-client -bootstrap HOST:PORT -topic NAME [-partitions N] admin-flow")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out, err := adminFlow(ctx, strings.Split(*bootstrap, ","), *topic, int32(*partitions))
	if err != nil {
		fmt.Fprintln(os.Stderr, "franz-client:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "franz-client:", err)
		os.Exit(1)
	}
}

// step notes on stderr how long each step of the flow took, to debug a slow or stuck broker.
var started = time.Now()

func step(name string) {
	fmt.Fprintf(os.Stderr, "franz-client: %6d ms %s\n", time.Since(started).Milliseconds(), name)
}

func adminFlow(ctx context.Context, seeds []string, topic string, partitions int32) (*summary, error) {
	// kadm answers Metadata from kgo's cache when it is younger than MetadataMinAge (5 s by
	// default); keep that short so polling sees a created or deleted topic promptly.
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	out := &summary{Client: "franz-go", Topic: topic, Partitions: []partitionSummary{}}

	step("ApiVersions")
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("ApiVersions: %w", err)
	}
	out.APIVersions = &apiVersionsSummary{Metadata: true, CreateTopics: true, DeleteTopics: true}
	for _, v := range versions.Sorted() {
		if v.Err != nil {
			return nil, fmt.Errorf("ApiVersions from broker %d: %w", v.NodeID, v.Err)
		}
		_, hasMetadata := v.KeyMaxVersion(kmsg.Metadata.Int16())
		_, hasCreate := v.KeyMaxVersion(kmsg.CreateTopics.Int16())
		_, hasDelete := v.KeyMaxVersion(kmsg.DeleteTopics.Int16())
		out.APIVersions.Metadata = out.APIVersions.Metadata && hasMetadata
		out.APIVersions.CreateTopics = out.APIVersions.CreateTopics && hasCreate
		out.APIVersions.DeleteTopics = out.APIVersions.DeleteTopics && hasDelete
	}

	step("CreateTopics")
	created, err := adm.CreateTopics(ctx, partitions, 1, nil, topic)
	if err != nil {
		return nil, fmt.Errorf("CreateTopics: %w", err)
	}
	createResult, err := created.On(topic, nil)
	if err != nil || createResult.Err != nil {
		return nil, fmt.Errorf("CreateTopics %s: %v %v", topic, err, createResult.Err)
	}
	out.CreatedPartitions = createResult.NumPartitions

	step("Metadata")
	// Kafka applies a create asynchronously to the metadata a broker serves, so poll until every
	// partition has a leader.
	var detail kadm.TopicDetail
	for {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("Metadata: %w", err)
		}
		detail = md.Topics[topic]
		if out.ClusterID == nil {
			cluster := md.Cluster
			out.ClusterID = &cluster
			out.Brokers = []int32{}
			for _, b := range md.Brokers {
				out.Brokers = append(out.Brokers, b.NodeID)
			}
			sort.Slice(out.Brokers, func(i, j int) bool { return out.Brokers[i] < out.Brokers[j] })
		}
		if detail.Err == nil && len(detail.Partitions) == int(partitions) && allLed(detail) {
			break
		}
		if err := pause(ctx); err != nil {
			return nil, fmt.Errorf("topic %s never got leaders for all partitions: %v", topic, detail.Err)
		}
	}
	hasID := detail.ID != kadm.TopicID{}
	out.HasTopicID = &hasID
	for _, p := range detail.Partitions.Sorted() {
		out.Partitions = append(out.Partitions, partitionSummary{
			Partition: p.Partition, Leader: p.Leader, Replicas: sortedIDs(p.Replicas), Isr: sortedIDs(p.ISR),
		})
	}

	step("ListTopics")
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("ListTopics: %w", err)
	}
	out.ListedAfterCreate = listed.Has(topic)

	step("CreateTopics again")
	again, err := adm.CreateTopics(ctx, partitions, 1, nil, topic)
	if err != nil {
		return nil, fmt.Errorf("second CreateTopics: %w", err)
	}
	out.DuplicateCreateError = errorName(again[topic].Err)

	step("DeleteTopics")
	deleted, err := adm.DeleteTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("DeleteTopics: %w", err)
	}
	if r := deleted[topic]; r.Err != nil {
		return nil, fmt.Errorf("DeleteTopics %s: %w", topic, r.Err)
	}
	step("ListTopics until gone")
	// Deletion also reaches metadata asynchronously: poll a bounded time for the topic to go.
	out.PresentAfterDelete = true
	for {
		listed, err := adm.ListTopics(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListTopics after delete: %w", err)
		}
		if !listed.Has(topic) {
			out.PresentAfterDelete = false
			break
		}
		if pause(ctx) != nil {
			break
		}
	}

	step("DeleteTopics again")
	missing, err := adm.DeleteTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("second DeleteTopics: %w", err)
	}
	out.DeleteMissingError = errorName(missing[topic].Err)
	step("done")
	return out, nil
}

func allLed(detail kadm.TopicDetail) bool {
	for _, p := range detail.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return false
		}
	}
	return true
}

func sortedIDs(ids []int32) []int32 {
	out := append([]int32{}, ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// errorName gives the Kafka protocol name of an error (TOPIC_ALREADY_EXISTS), or nil for none.
func errorName(err error) *string {
	if err == nil {
		return nil
	}
	var kafkaErr *kerr.Error
	name := err.Error()
	if errors.As(err, &kafkaErr) {
		name = kafkaErr.Message
	}
	return &name
}

func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}
