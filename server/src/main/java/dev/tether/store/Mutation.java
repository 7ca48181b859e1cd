package dev.tether.store;

import java.util.List;

/**
 * One change inside an atomic {@link StreamStore#commit} batch. The set is deliberately small
 * so that each store can map it onto its own transaction primitive (one SQLite transaction,
 * one Redis MULTI/EXEC or script).
 */
public sealed interface Mutation {

    /** Inserts or replaces a stream's metadata row. */
    record PutStream(StreamRecord record) implements Mutation {}

    /** Appends rows; positions must continue the stream's data without gaps. */
    record AppendMessages(long streamId, List<StoredMessage> messages) implements Mutation {
        public AppendMessages {
            messages = List.copyOf(messages);
        }
    }

    /** Records a producer's last accepted (epoch, seq): committed with the data it describes. */
    record PutProducer(ProducerRecord producer) implements Mutation {}

    /** Removes rows wholly below {@code beforePosition} (retention). */
    record TrimMessages(long streamId, long beforePosition) implements Mutation {}

    /** Removes a stream's metadata, data and producer state. */
    record DropStream(long streamId) implements Mutation {}
}
