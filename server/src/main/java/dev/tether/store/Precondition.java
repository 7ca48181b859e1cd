package dev.tether.store;

import java.util.Objects;

/**
 * What a {@link Commit} expects of the stored state: all hold, and its mutations apply, or one
 * fails, and nothing does ({@link CommitResult.Conflict}). This is how several writers (nodes)
 * share one store: each decides against the state it read and the store refuses a decision made
 * on state that has changed since.
 */
public sealed interface Precondition {
    /**
     * Stream {@code expected.id()} is stored exactly as {@code expected}: not appended to, closed,
     * deleted or otherwise changed since the writer read it.
     */
    record StreamIs(StreamRecord expected) implements Precondition {
        public StreamIs {
            Objects.requireNonNull(expected, "expected");
        }
    }

    /** No stream that holds a path ({@link StreamRecord.Lifecycle#LIVE} or soft-deleted) has {@code path}. */
    record PathFree(String path) implements Precondition {
        public PathFree {
            Objects.requireNonNull(path, "path");
        }
    }

    /**
     * No node recorded a TTL-renewing access to stream {@code streamId} later than
     * {@code atMillis} ({@link SharedStreamStore#renew}): what a decision that the stream expired
     * rests on. A one-node store keeps renewals in the stream's record, which {@link StreamIs}
     * covers, so there it always holds.
     */
    record NotRenewedAfter(long streamId, long atMillis) implements Precondition {}

    /**
     * Producer {@code producerId} of stream {@code streamId} has last accepted {@code expected}'s
     * (epoch, seq); {@code expected} null means the producer has no state yet.
     */
    record ProducerIs(long streamId, String producerId, ProducerRecord expected) implements Precondition {
        public ProducerIs {
            Objects.requireNonNull(producerId, "producerId");
            if (expected != null
                    && (expected.streamId() != streamId
                            || !expected.producerId().equals(producerId))) {
                throw new IllegalArgumentException("expected state of another producer");
            }
        }
    }
}
