package dev.tether.inference;

import java.util.List;
import java.util.Map;

/**
 * Something that turns a conversation into the next assistant turn: an OpenAI-compatible
 * upstream, or (later) the embedded engine. The Responses layer calls it on a virtual thread
 * of its own and streams whatever arrives through the {@link ModelSink}.
 *
 * <p>Cancellation is a thread interrupt: an implementation must stop promptly when the calling
 * thread is interrupted and throw {@link InterruptedException}. Implementations are thread-safe.
 */
public interface ModelBackend extends AutoCloseable {

    /**
     * Generates one assistant turn.
     *
     * @param request the whole context, serialized canonically by the backend
     * @param sink    receives text and tool-call fragments as they arrive, in order (not
     *                necessarily on the calling thread; see {@link ModelSink}); none after this returns
     * @return how the turn ended and what it cost
     * @throws ModelException       when the backend cannot answer (its message says why)
     * @throws InterruptedException when the calling thread was interrupted (a cancel)
     */
    ModelResult generate(ModelRequest request, ModelSink sink) throws ModelException, InterruptedException;

    /**
     * The output limit this backend applies to a request that sets none, or null when it has
     * none of its own (an upstream's default is the upstream's business).
     */
    default Integer defaultMaxOutputTokens() {
        return null;
    }

    /**
     * The tokens {@code request}'s context takes, without generating; null when this backend
     * cannot count (it has no tokenizer). May block.
     */
    default Integer countInputTokens(ModelRequest request) throws ModelException {
        return null;
    }

    /** A short description for logs and {@code /health}, e.g. the upstream URLs. */
    String describe();

    /**
     * The models clients may name ({@code GET /v1/models}). May block (an upstream is asked).
     *
     * @throws ModelException when the backend cannot say (e.g. the upstream is unreachable)
     */
    default List<ModelInfo> models() throws ModelException, InterruptedException {
        return List.of();
    }

    /**
     * Entries every response's {@code metadata} carries, e.g. a notice that the output comes
     * from a demo model. Empty by default.
     */
    default Map<String, String> responseMetadata() {
        return Map.of();
    }

    /**
     * Drops whatever the backend keeps for session {@code sessionKey} (cached state in memory
     * and on disk), because its chain or conversation was deleted or expired. A turn of that
     * session that is running keeps its state until it ends. Does nothing by default; never
     * blocks on a running turn.
     */
    default void forget(String sessionKey) {}

    @Override
    default void close() {}

    /**
     * Whether {@link #generate} calls {@link ModelSink#sent} once its request is under way. When
     * it does not, the caller takes the request as under way when it calls {@link #generate}.
     */
    default boolean reportsSent() {
        return false;
    }

    /**
     * Whether turns with the same session key run at the same time, the key only steering caches
     * and routing. When not (the embedded engine runs a session's turns one after another on its
     * KV state), the caller gives unrelated requests keys of their own.
     */
    default boolean sessionsRunConcurrently() {
        return false;
    }
}
