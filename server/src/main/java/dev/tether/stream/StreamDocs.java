package dev.tether.stream;

import dev.tether.store.StoredMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * JSON-mode streams as Tether's own layers (responses, conversations, sessions) use them:
 * create, append, read whole, delete.
 * Failures of the store surface as {@link WriteRejectedException} or the store's exception,
 * which the HTTP layer maps to 503.
 *
 * <p>Stateless and thread-safe.
 */
public final class StreamDocs {
    public static final String JSON = "application/json";

    private final StreamEngine engine;
    /** The sliding TTL of every stream created here, in seconds, or null to keep them. */
    private final Long ttlSeconds;

    public StreamDocs(StreamEngine engine, Long ttlSeconds) {
        this.engine = engine;
        this.ttlSeconds = ttlSeconds;
    }

    /** Whether the stream exists (not expired, not deleted); does not renew it. */
    public boolean exists(String path) {
        return engine.lookup(path) instanceof dev.tether.stream.Lookup.Found;
    }

    /** Renews the stream's TTL, as a read would. */
    public void touch(String path) {
        engine.touch(path);
    }

    public CompletionStage<Void> create(String path, List<byte[]> messages, boolean closed) {
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

    public CompletionStage<Void> append(String path, List<byte[]> messages, boolean close) {
        return engine.append(new AppendRequest(path, JSON, messages, close, null, null))
                .thenAccept(r -> {
                    if (r instanceof Rejection rejection) {
                        throw new CompletionException(
                                new IllegalStateException("cannot append to " + path + ": " + rejection.message()));
                    }
                });
    }

    /** Every message of the stream, or null when it does not exist. */
    public CompletionStage<Contents> readAll(String path) {
        CompletableFuture<Contents> result = new CompletableFuture<>();
        readFrom(path, null, new ArrayList<>(), new ArrayList<>(), result);
        return result;
    }

    private void readFrom(
            String path, Long from, List<byte[]> acc, List<Offset> ends, CompletableFuture<Contents> result) {
        engine.read(path, from).whenComplete((r, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
                return;
            }
            switch (r) {
                case ReadResult.Data data -> {
                    for (StoredMessage m : data.messages()) {
                        acc.add(m.data());
                        ends.add(engine.offsetOf(data.stream(), m.end()));
                    }
                    if (data.upToDate() || data.next() == data.from()) {
                        result.complete(new Contents(
                                acc, ends, data.nextOffset(), data.stream().closed()));
                    } else {
                        readFrom(path, data.next(), acc, ends, result);
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

    public CompletionStage<Boolean> delete(String path) {
        return engine.delete(path).thenApply(r -> r instanceof DeleteResult.Deleted);
    }

    /**
     * A stream's messages, the offset just after each (where a reader resumes to get the ones
     * after it), the tail, and whether it is closed.
     */
    public record Contents(List<byte[]> messages, List<Offset> ends, Offset tail, boolean closed) {}
}
