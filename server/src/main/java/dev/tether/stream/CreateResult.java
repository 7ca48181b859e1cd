package dev.tether.stream;

import dev.tether.store.StreamRecord;

/** The outcome of creating a stream (PUT). */
public sealed interface CreateResult permits CreateResult.Created, CreateResult.Existing, Rejection {

    /** A new stream (201). */
    record Created(StreamRecord stream) implements CreateResult {}

    /** The stream already existed with the same configuration (200). */
    record Existing(StreamRecord stream) implements CreateResult {}
}
