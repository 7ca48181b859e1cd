package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelRequest;
import dev.tether.stream.StreamEngine;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Responses API without its transport: starts responses (resolving their chain from a
 * connection's cache, memory or the store), serves them while they run and after, cancels and
 * deletes them. Stored responses live in the stream engine ({@link ResponseLog}); {@code
 * store:false} ones only in memory while they run and in the connection that made them.
 *
 * <p>Thread-safe. Stages complete on engine or generating threads.
 */
public final class ResponseService implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ResponseService.class.getName());

    private final ResponseLog log;
    private final Conversations conversations;
    private final ModelBackend backend;
    private final InstantSource clock;
    private final ResponseSettings settings;
    private final ResponseCache cache;
    private final Map<String, ResponseRun> live = new ConcurrentHashMap<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();

    /** A connection's own recent responses (WebSocket mode), consulted before anything else. */
    public interface LocalChains {
        ResponseRecord find(String id);
    }

    public ResponseService(StreamEngine engine, ModelBackend backend, InstantSource clock, ResponseSettings settings) {
        StreamDocs docs = new StreamDocs(engine);
        this.log = new ResponseLog(docs);
        this.conversations = new Conversations(docs, clock);
        this.backend = backend;
        this.clock = clock;
        this.settings = settings;
        this.cache = new ResponseCache(settings.cachedResponses());
    }

    public Conversations conversations() {
        return conversations;
    }

    public String backendDescription() {
        return backend == null ? "none" : backend.describe();
    }

    /** Starts a response; the stage fails with an {@link ApiError} for a bad request. */
    public CompletionStage<ResponseRun> create(ResponseParams p, LocalChains local) {
        if (p.generate() && backend == null) {
            throw new ApiError(
                    503,
                    "server_error",
                    "no_backend",
                    "model",
                    "No model backend is configured. Start Tether with --upstream http://HOST:PORT/v1 "
                            + "(any OpenAI-compatible Chat Completions endpoint: vLLM, llama.cpp, Ollama, OpenAI...).");
        }
        ResponseParams params = backend == null ? p : p.withMetadata(backend.responseMetadata());
        return parent(params, local).thenCompose(parent -> start(params, parent));
    }

    /**
     * What a new response continues: a chain and its root, maybe a conversation. {@code stored}
     * is false when the parent itself was {@code store:false} (a WebSocket continuation): then
     * nothing derived from the chain may reach disk, whatever the new request says.
     */
    private record Parent(Chain chain, String root, Conversation conversation, boolean stored) {
        Parent(Chain chain, String root, Conversation conversation) {
            this(chain, root, conversation, true);
        }
    }

    private CompletionStage<Parent> parent(ResponseParams p, LocalChains local) {
        String prev = p.previousResponseId();
        if (prev != null) {
            ResponseRecord mine = local == null ? null : local.find(prev);
            if (mine != null) {
                return CompletableFuture.completedFuture(new Parent(
                        mine.after(), mine.rootId(), null, mine.params().store()));
            }
            ResponseRun running = live.get(prev);
            ResponseRecord finished = running == null ? null : running.finished();
            if (finished != null
                    && finished.params().store()
                    && finished.params().conversationId() == null) {
                return CompletableFuture.completedFuture(new Parent(finished.after(), finished.rootId(), null));
            }
            if (running != null && finished == null && running.params().store()) {
                throw ApiError.invalid(
                        "previous_response_id",
                        "Previous response '" + prev + "' is still in progress; continue it once it has completed.");
            }
            return chainOf(prev).thenApply(r -> {
                if (r.params().conversationId() != null) {
                    throw ApiError.invalid(
                            "previous_response_id",
                            "Response '" + prev + "' belongs to conversation "
                                    + r.params().conversationId() + "; continue it with conversation: '"
                                    + r.params().conversationId() + "' instead.");
                }
                return new Parent(r.after(), r.rootId(), null);
            });
        }
        if (p.conversationId() != null) {
            return conversations
                    .get(p.conversationId())
                    .thenApply(c -> new Parent(Chain.EMPTY.append(c.items()), c.id(), c));
        }
        return CompletableFuture.completedFuture(new Parent(Chain.EMPTY, null, null));
    }

    private CompletionStage<ResponseRun> start(ResponseParams p, Parent parent) {
        String id = Ids.response();
        String root = parent.root() != null ? parent.root() : id;
        List<ChatMessage> messages = ContextAssembler.assemble(
                p.instructions(), parent.chain().append(p.input()).items());
        if (inFlight.incrementAndGet() > settings.maxInFlight()) {
            inFlight.decrementAndGet();
            throw new ApiError(
                    429,
                    "rate_limit_exceeded",
                    "too_many_responses",
                    null,
                    "More than " + settings.maxInFlight() + " responses are being generated; retry shortly.");
        }
        ResponseRecord start = new ResponseRecord(
                id,
                clock.millis() / 1000,
                p,
                root,
                parent.chain(),
                p.input(),
                List.of(),
                p.background() ? ResponseStatus.QUEUED : ResponseStatus.IN_PROGRESS,
                null,
                null,
                null,
                null);
        ResponseRun run = new ResponseRun(
                start, p.store() ? log::persister : null, record -> beforeTerminal(record, parent), clock);
        ModelRequest request = new ModelRequest(
                p.model(),
                root,
                p.store() && parent.stored(),
                messages,
                p.toolSpecs(),
                p.toolChoice(),
                p.parallelToolCalls(),
                p.temperature(),
                p.topP(),
                p.maxOutputTokens());
        if (!p.store()) {
            return CompletableFuture.completedFuture(launch(run, request));
        }
        // The streams are created by the writer before any event is appended (one queue, in
        // order), so generation need not wait for them: events become visible only once durable
        // anyway. Only a background response, answered before it runs, waits for its record.
        CompletionStage<Void> created = log.begin(start);
        if (!p.background()) {
            created.whenComplete((ok, failure) -> {
                if (failure != null) {
                    run.storageFailed(String.valueOf(failure.getMessage()));
                }
            });
            return CompletableFuture.completedFuture(launch(run, request));
        }
        return created.handle((ok, failure) -> {
            if (failure != null) {
                inFlight.decrementAndGet();
                throw failure instanceof CompletionException c ? c : new CompletionException(failure);
            }
            return launch(run, request);
        });
    }

    private ResponseRun launch(ResponseRun run, ModelRequest request) {
        live.put(run.id(), run);
        run.done().whenComplete((r, e) -> {
            live.remove(run.id(), run);
            inFlight.decrementAndGet();
        });
        if (run.params().background()) {
            run.queued();
        }
        workers.execute(() -> run.execute(backend, request));
        return run;
    }

    private void beforeTerminal(ResponseRecord record, Parent parent) {
        if (parent.conversation() != null) {
            List<ObjectNode> items = new ArrayList<>(record.input());
            items.addAll(record.output());
            conversations.append(parent.conversation(), items);
        }
        if (record.params().store()) {
            cache.put(record);
        }
    }

    /** A stored response with its whole chain resolved, for continuation. */
    private CompletionStage<ResponseRecord> chainOf(String id) {
        ResponseRecord cached = cache.get(id);
        if (cached != null) {
            return CompletableFuture.completedFuture(cached);
        }
        if (!Ids.wellFormed(id, "resp_")) {
            return CompletableFuture.failedFuture(ApiError.previousNotFound(id));
        }
        return loadFinished(id).thenCompose(loaded -> {
            if (loaded == null) {
                throw ApiError.previousNotFound(id);
            }
            ResponseRecord r = loaded.record();
            if (loaded.previousId() == null) {
                cache.put(r);
                return CompletableFuture.completedFuture(r);
            }
            return chainOf(loaded.previousId()).handle((parent, e) -> {
                if (e != null) {
                    throw ApiError.invalid(
                            "previous_response_id",
                            "previous_response_not_found",
                            "Previous response with id '"
                                    + id + "' cannot be continued: an earlier response of its chain, '"
                                    + loaded.previousId()
                                    + "', was deleted.");
                }
                ResponseRecord full = r.withBefore(parent.after());
                cache.put(full);
                return full;
            });
        });
    }

    /** Loads from the store, ending a response the process died in the middle of. */
    private CompletionStage<ResponseLog.Loaded> loadFinished(String id) {
        return log.load(id).thenCompose(loaded -> {
            if (loaded == null || loaded.finished() || live.containsKey(id)) {
                return CompletableFuture.completedFuture(loaded);
            }
            return log.markInterrupted(loaded)
                    .thenApply(failed ->
                            new ResponseLog.Loaded(failed, loaded.previousId(), true, loaded.eventCount() + 1));
        });
    }

    /** {@code GET /v1/responses/{id}}: a 404 {@link ApiError} when unknown. */
    public CompletionStage<ResponseRecord> get(String id) {
        ResponseRun running = live.get(id);
        if (running != null && running.params().store()) {
            return CompletableFuture.completedFuture(running.snapshot());
        }
        ResponseRecord cached = cache.get(id);
        if (cached != null) {
            return CompletableFuture.completedFuture(cached);
        }
        if (!Ids.wellFormed(id, "resp_")) {
            return CompletableFuture.failedFuture(notFound(id));
        }
        return loadFinished(id).thenApply(loaded -> {
            if (loaded == null) {
                throw notFound(id);
            }
            return loaded.record();
        });
    }

    public CompletionStage<ObjectNode> inputItems(String id, String limit, String order, String after) {
        return get(id).thenApply(r -> Pages.list(r.input(), limit, order, after));
    }

    /** Cancels a running response; a finished one is returned as it is (idempotent). */
    public CompletionStage<ResponseRecord> cancel(String id) {
        ResponseRun running = live.get(id);
        return running != null ? running.cancel() : get(id);
    }

    public CompletionStage<ObjectNode> delete(String id) {
        if (!Ids.wellFormed(id, "resp_")) {
            return CompletableFuture.failedFuture(notFound(id));
        }
        ResponseRun running = live.get(id);
        CompletionStage<?> stopped = running == null ? CompletableFuture.completedFuture(null) : running.cancel();
        return stopped.thenCompose(v -> log.delete(id)).thenApply(deleted -> {
            cache.remove(id);
            if (!deleted && running == null) {
                throw notFound(id);
            }
            return Json.object().put("id", id).put("object", "response").put("deleted", true);
        });
    }

    /**
     * Delivers a response's events after {@code after} (-1 for all): live ones as they come for a
     * running response, the stored ones otherwise. Fails with a 404 {@link ApiError} when unknown.
     */
    public CompletionStage<Void> resume(String id, int after, ResponseListener listener) {
        ResponseRun running = live.get(id);
        if (running != null) {
            running.subscribe(after, listener);
            return CompletableFuture.completedFuture(null);
        }
        return get(id).thenCompose(r -> log.events(id)).thenAccept(events -> {
            for (int i = Math.max(0, after + 1); i < events.size(); i++) {
                byte[] json = events.get(i);
                listener.onEvent(i, Json.parseStored(json).path("type").asText(), json);
            }
            listener.onEnd();
        });
    }

    public void unsubscribe(String id, ResponseListener listener) {
        ResponseRun running = live.get(id);
        if (running != null) {
            running.unsubscribe(listener);
        }
    }

    static ApiError notFound(String id) {
        return ApiError.notFound("response_id", "Response with id '" + id + "' not found.");
    }

    /** Ends running responses as failed (their terminal events are stored), then stops. */
    @Override
    public void close() {
        List<CompletableFuture<ResponseRecord>> ending = new ArrayList<>();
        for (ResponseRun run : live.values()) {
            run.abort("server_shutdown", "the server shut down while this response was being generated");
            ending.add(run.done().toCompletableFuture());
        }
        try {
            CompletableFuture.allOf(ending.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "some responses did not end within 5 s of shutdown: " + e);
        }
        workers.shutdownNow();
        if (backend != null) {
            backend.close();
        }
    }
}
