package dev.tether.stream;

/** The outcome of deleting a stream. */
public sealed interface DeleteResult permits DeleteResult.Deleted, Rejection {
    record Deleted(String path) implements DeleteResult {}
}
