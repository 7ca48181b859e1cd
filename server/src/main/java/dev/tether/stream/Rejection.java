package dev.tether.stream;

import dev.tether.store.StreamRecord;

/**
 * Why the engine refused an operation. Each case maps to one protocol status; the message
 * says what was wrong in words a client developer can act on.
 */
public sealed interface Rejection extends CreateResult, AppendResult, ReadResult, DeleteResult, Lookup {

    String message();

    /** Malformed or out-of-range input (400). */
    record Invalid(String message) implements Rejection {}

    /** No such stream, or it expired (404). */
    record NotFound(String message) implements Rejection {}

    /** The stream was deleted but is kept for its forks, or the data was trimmed (410). */
    record Gone(String message) implements Rejection {}

    /** The request contradicts the stream's configuration or state (409). */
    record Conflict(String message) implements Rejection {}

    /** An append to a closed stream (409 with {@code Stream-Closed}). */
    record StreamClosed(StreamRecord stream, String message) implements Rejection {}

    /** A producer skipped sequence numbers (409 with expected/received). */
    record SequenceGap(long expected, long received, String message) implements Rejection {}

    /** The storage could not be reached to answer (503); the request may be retried. */
    record Unavailable(String message) implements Rejection {}

    /** A zombie producer with an old epoch (403 with the current epoch). */
    record StaleEpoch(long currentEpoch, String message) implements Rejection {}
}
