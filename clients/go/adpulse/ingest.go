package adpulse

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"

	pb "github.com/adpulse/adpulse/clients/go/gen/adpulse/v1"
)

// DefaultBatchBytes is how much text IngestFile puts in one batch.
const DefaultBatchBytes = 4 << 20

// IngestResult is what one ingest stream did.
type IngestResult struct {
	Opened *pb.StreamOpened
	Acks   []*pb.BatchAck
}

// Totals sums the acks' row counts: rows stored, rejected, and already stored.
func (r *IngestResult) Totals() (accepted, rejected, duplicates int64) {
	for _, ack := range r.Acks {
		accepted, rejected, duplicates = accepted+ack.GetAccepted(), rejected+ack.GetRejected(), duplicates+ack.GetDuplicates()
	}
	return accepted, rejected, duplicates
}

// IngestStream opens one ingest stream, sends every batch and returns the server's acks, in
// order, once all are committed. A failed stream returns what was acknowledged before it.
func (c *Client) IngestStream(ctx context.Context, open *pb.StreamOpen, batches iter.Seq[*pb.IngestBatch]) (*IngestResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Ingest.Ingest(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	sent := make(chan error, 1)
	go func() {
		sent <- func() error {
			if err := stream.Send(&pb.IngestRequest{Request: &pb.IngestRequest_Open{Open: open}}); err != nil {
				return err
			}
			for batch := range batches {
				if err := stream.Send(&pb.IngestRequest{Request: &pb.IngestRequest_Batch{Batch: batch}}); err != nil {
					return err
				}
			}
			return stream.CloseSend()
		}()
	}()
	result := &IngestResult{}
	for {
		response, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			// Send errors other than EOF surface on Recv; EOF on Send means the server ended first.
			if sendErr := <-sent; sendErr != nil && !errors.Is(sendErr, io.EOF) {
				return result, sendErr
			}
			return result, nil
		}
		if err != nil {
			return result, wrap(err)
		}
		if opened := response.GetOpened(); opened != nil {
			result.Opened = opened
		} else {
			result.Acks = append(result.Acks, response.GetAck())
		}
	}
}

// TextBatch is a batch of CSV or NDJSON text.
func TextBatch(batchID string, format pb.TextFormat, data []byte) *pb.IngestBatch {
	return &pb.IngestBatch{BatchId: batchID, Payload: &pb.IngestBatch_Text{Text: &pb.TextPayload{Format: format, Data: data}}}
}

// RowsBatch is a batch of protobuf rows.
func RowsBatch(batchID string, rows []*pb.FactRow) *pb.IngestBatch {
	return &pb.IngestBatch{BatchId: batchID, Payload: &pb.IngestBatch_Rows{Rows: &pb.RowBatch{Rows: rows}}}
}

// ArrowBatch is a batch of one Arrow IPC stream (columns named like the generic CSV header).
func ArrowBatch(batchID string, ipcStream []byte) *pb.IngestBatch {
	return &pb.IngestBatch{BatchId: batchID, Payload: &pb.IngestBatch_ArrowIpc{ArrowIpc: ipcStream}}
}

// IngestFile streams a CSV file (header line first) in batches of about DefaultBatchBytes,
// each repeating the header. Batch ids come from the file name and the chunk's content, so
// ingesting the same file twice stores nothing twice.
func (c *Client) IngestFile(ctx context.Context, path string, open *pb.StreamOpen) (*IngestResult, error) {
	chunks, err := csvChunks(path, DefaultBatchBytes)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	return c.IngestStream(ctx, open, func(yield func(*pb.IngestBatch) bool) {
		for i, chunk := range chunks {
			sum := sha256.Sum256(chunk)
			id := fmt.Sprintf("%s:%d:%s", name, i+1, hex.EncodeToString(sum[:8]))
			if !yield(TextBatch(id, pb.TextFormat_TEXT_FORMAT_CSV, chunk)) {
				return
			}
		}
	})
}

func csvChunks(path string, limit int) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64<<10), limit)
	if !scanner.Scan() {
		return nil, fmt.Errorf("adpulse: %s has no header line", path)
	}
	header := append(scanner.Bytes(), '\n')
	var chunks [][]byte
	current := bytes.NewBuffer(append([]byte(nil), header...))
	for scanner.Scan() {
		if current.Len()+len(scanner.Bytes()) > limit && current.Len() > len(header) {
			chunks = append(chunks, current.Bytes())
			current = bytes.NewBuffer(append([]byte(nil), header...))
		}
		current.Write(scanner.Bytes())
		current.WriteByte('\n')
	}
	if current.Len() > len(header) {
		chunks = append(chunks, current.Bytes())
	}
	return chunks, scanner.Err()
}

func wrap(err error) error {
	if typed, ok := AsError(err); ok {
		return typed
	}
	return err
}
