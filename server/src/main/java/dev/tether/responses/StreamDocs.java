package dev.tether.responses;

import dev.tether.store.StoredMessage;
import dev.tether.stream.AppendRequest;
import dev.tether.stream.CreateRequest;
import dev.tether.stream.CreateResult;
import dev.tether.stream.DeleteResult;
import dev.tether.stream.ReadResult;
import dev.tether.stream.Rejection;
import dev.tether.stream.StreamEngine;
import dev.tether.stream.WriteRejectedException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * JSON-mode streams as the Responses layer uses them: create, append, read whole, delete.
 * Failures of the store surface as {@link WriteRejectedException} or the store's exception,
 * which the HTTP layer maps to 503.
 *
 * <p>Stateless and thread-safe.
 */
final class StreamDocs {
    static final String JSON = "application/json";

    private final StreamEngine engine;
    /** The sliding TTL of every stream created here, in seconds, or null to keep them. */
    private final Long ttlSeconds;

    StreamDocs(StreamEngine engine, Long ttlSeconds) {
        this.engine = engine;
        this.ttlSeconds = ttlSeconds;
    }

    /** Whether the stream exists (not expired, not deleted); does not renew it. */
    boolean exists(String path) {
        return engine.lookup(path) instanceof dev.tether.stream.Lookup.Found;
    }

    /** Renews the stream's TTL, as a read would. */
    void touch(String path) {
        engine.touch(path);
    }

    CompletionStage<Void> create(String path, List<byte[]> messages, boolean closed) {
        return engine.create(new CreateRequest(path, JSON, ttlSeconds, null, closed, messages, null))
                .thenAccept(r -> {
                    if (r instanceof Rejection rejection) {
                        throw new CompletionException(
                                new IllegalStateException("cannot create " + path + ": " + rejection.message()));
                    }
                    if (r instanceof CreateResult.Existing) {
                        throw new CompletionException(new IllegalStateException(path + " already exists"));
                    }
                });
    }

    CompletionStage<Void> append(String path, List<byte[]> messages, boolean close) {
        return engine.append(new AppendRequest(path, JSON, messages, close, null, null))
                .thenAccept(r -> {
                    if (r instanceof Rejection rejection) {
                        throw new CompletionException(
                                new IllegalStateException("cannot append to " + path + ": " + rejection.message()));
                    }
                });
    }

    /** Every message of the stream, or null when it does not exist. */
    CompletionStage<Contents> readAll(String path) {
        CompletableFuture<Contents> result = new CompletableFuture<>();
        readFrom(path, null, new ArrayList<>(), result);
        return result;
    }

    private void readFrom(String path, Long from, List<byte[]> acc, CompletableFuture<Contents> result) {
        engine.read(path, from).whenComplete((r, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
                return;
            }
            switch (r) {
                case ReadResult.Data data -> {
                    for (StoredMessage m : data.messages()) {
                        acc.add(m.data());
                    }
                    if (data.upToDate() || data.next() == data.from()) {
                        result.complete(new Contents(acc, data.stream().closed()));
                    } else {
                        readFrom(path, data.next(), acc, result);
                    }
                }
                case Rejection.NotFound n -> result.complete(null);
                case Rejection.Gone g -> result.complete(null);
                case Rejection other ->
                    result.completeExceptionally(
                            new IllegalStateException("cannot read " + path + ": " + other.message()));
            }
        });
    }

    CompletionStage<Boolean> delete(String path) {
        return engine.delete(path).thenApply(r -> r instanceof DeleteResult.Deleted);
    }

    /** A stream's messages and whether it is closed. */
    record Contents(List<byte[]> messages, boolean closed) {}
}
