package dev.tether.stream;

import dev.tether.store.ProducerRecord;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.Lifecycle;
import dev.tether.store.StreamRecord.ProducerTuple;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * POST: appends and/or closes, with idempotent-producer checks (Durable Streams §5.2.1)
 * evaluated against state staged in the same batch, so the producer state commits in the
 * same transaction as the data it vouches for.
 */
final class AppendOperation {
    private AppendOperation() {}

    static AppendResult apply(WriteBatch batch, AppendRequest req) {
        StreamRecord r = Lifecycles.current(batch, req.path());
        if (r == null) {
            return new Rejection.NotFound("stream " + req.path() + " does not exist");
        }
        if (r.lifecycle() == Lifecycle.SOFT_DELETED) {
            return new Rejection.Gone("stream " + req.path() + " has been deleted");
        }
        r = r.withLastAccess(Math.max(batch.now(), batch.lastAccessOf(r)));
        ProducerTuple producer = req.producer();
        if (r.closed()) {
            return whenClosed(batch, r, req);
        }
        if (req.hasData() && !ContentTypes.sameMediaType(req.contentType(), r.contentType())) {
            return new Rejection.Conflict("Content-Type " + req.contentType()
                    + " does not match the stream's content type " + r.contentType());
        }
        if (producer != null) {
            AppendResult verdict = checkProducer(batch, r, producer);
            if (verdict != null) {
                return verdict;
            }
        }
        if (req.streamSeq() != null
                && r.lastStreamSeq() != null
                && compareBytes(req.streamSeq(), r.lastStreamSeq()) <= 0) {
            return new Rejection.Conflict("Stream-Seq " + req.streamSeq()
                    + " is not greater than the last accepted Stream-Seq " + r.lastStreamSeq());
        }
        StreamRecord next = req.hasData() ? batch.appendData(r, req.messages()) : r;
        if (req.streamSeq() != null) {
            next = next.withLastStreamSeq(req.streamSeq());
        }
        if (req.close()) {
            next = next.withClosed(producer);
        }
        if (producer != null) {
            batch.putProducer(new ProducerRecord(r.id(), producer.producerId(), producer.epoch(), producer.seq()));
        }
        batch.put(next);
        return new AppendResult.Appended(next, producer);
    }

    private static AppendResult whenClosed(WriteBatch batch, StreamRecord r, AppendRequest req) {
        ProducerTuple producer = req.producer();
        if (producer != null && producer.equals(r.closedBy())) {
            // A retry of the request that appended-and-closed: report success again (§5.3).
            return new AppendResult.Duplicate(r, producer.epoch(), producer.seq());
        }
        if (!req.hasData()) {
            // Closing is idempotent; it still renews a sliding TTL.
            batch.put(r);
            return new AppendResult.Appended(r, null);
        }
        return new Rejection.StreamClosed(r, "stream " + r.path() + " is closed");
    }

    /** Null when the request may proceed; otherwise the verdict (§5.2.1, in the spec's order). */
    private static AppendResult checkProducer(WriteBatch batch, StreamRecord r, ProducerTuple p) {
        ProducerRecord state = batch.producer(r.id(), p.producerId());
        if (state == null) {
            if (p.seq() != 0) {
                return new Rejection.SequenceGap(
                        0,
                        p.seq(),
                        "producer " + p.producerId()
                                + " is unknown on this stream; its first request must have Producer-Seq 0");
            }
            if (!batch.memory().hasRoomFor(StreamState.producerCost(p.producerId()))) {
                // Producer state lives as long as the stream: when memory is full, take no new ones.
                // Checked after the sequence, so a gap is still the client's 409, not the server's 503.
                throw batch.memory()
                        .full(
                                "a new Producer-Id (or append without producer headers)",
                                StreamState.producerCost(p.producerId()));
            }
            return null;
        }
        if (p.epoch() < state.epoch()) {
            return new Rejection.StaleEpoch(
                    state.epoch(), "Producer-Epoch " + p.epoch() + " is older than the current epoch " + state.epoch());
        }
        if (p.epoch() > state.epoch()) {
            return p.seq() == 0
                    ? null
                    : new Rejection.Invalid("a new Producer-Epoch must start at Producer-Seq 0, got " + p.seq());
        }
        if (p.seq() <= state.seq()) {
            return new AppendResult.Duplicate(r, state.epoch(), state.seq());
        }
        if (p.seq() != state.seq() + 1) {
            return new Rejection.SequenceGap(
                    state.seq() + 1,
                    p.seq(),
                    "Producer-Seq " + p.seq() + " skips ahead; expected " + (state.seq() + 1));
        }
        return null;
    }

    /** Stream-Seq values compare byte-wise, lexicographically (§5.2). */
    private static int compareBytes(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }
}
