package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Operation;
import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelRequest;
import dev.tether.metrics.Metrics;
import dev.tether.stream.StreamDocs;
import dev.tether.stream.StreamEngine;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
    /** The capability resources of this API. */
    public static final String RESOURCE = "responses";

    public static final String CONVERSATIONS = "conversations";

    private static final System.Logger LOG = System.getLogger(ResponseService.class.getName());

    private final ResponseLog log;
    private final Conversations conversations;
    private final ModelBackend backend;
    private final InstantSource clock;
    private final ResponseSettings settings;
    private final ResponseCache cache;
    private final Continuations continuations;
    private final Metrics metrics;
    private final Map<String, ResponseRun> live = new ConcurrentHashMap<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
    private final ModelList models;
    private final Compactor compactor;

    /** A connection's own recent responses (WebSocket mode), consulted before anything else. */
    public interface LocalChains {
        ResponseRecord find(String id);
    }

    public ResponseService(
            StreamEngine engine,
            ModelBackend backend,
            InstantSource clock,
            ResponseSettings settings,
            Metrics metrics) {
        this.metrics = metrics;
        StreamDocs docs = new StreamDocs(engine, settings.ttlSeconds());
        this.log = new ResponseLog(docs);
        this.conversations = new Conversations(docs, clock, settings.cachedConversations(), backend);
        this.backend = backend;
        this.clock = clock;
        this.settings = settings;
        this.cache = new ResponseCache(settings.cachedResponses());
        this.continuations = new Continuations(log, cache, conversations, live);
        this.models = new ModelList(backend);
        this.compactor = new Compactor(backend);
    }

    public Conversations conversations() {
        return conversations;
    }

    /** {@code /v1/models}: what the backend serves. */
    public ModelList models() {
        return models;
    }

    public String backendDescription() {
        return backend == null ? "none" : backend.describe();
    }

    /**
     * Checks what a create request needs beyond {@code create} on responses: a continuation reads
     * its parent, a conversation turn appends to the conversation.
     */
    public static void authorize(ResponseParams params, Principal principal) {
        principal.require(RESOURCE, Operation.CREATE);
        if (params.previousResponseId() != null) {
            principal.require(RESOURCE, Operation.READ);
        }
        if (params.conversationId() != null) {
            principal.require(CONVERSATIONS, Operation.APPEND);
        }
    }

    /**
     * Starts a response owned by {@code owner}; the stage fails with a {@link Refusal} for a bad
     * request.
     */
    public CompletionStage<ResponseRun> create(ResponseParams p, LocalChains local, String owner) {
        if (p.generate()) {
            requireBackend();
        }
        ResponseParams params = backend == null
                ? p
                : p.withMetadata(backend.responseMetadata())
                        .withDefaultMaxOutputTokens(backend.defaultMaxOutputTokens());
        return continuations
                .parent(params, local, owner)
                .thenCompose(parent -> start(params, parent, owner, local != null));
    }

    /**
     * {@code POST /v1/responses/input_tokens}: how many tokens the request's whole context (its
     * chain or conversation, instructions, tools and input) takes, without generating anything.
     * Exact for the embedded engine; a Chat Completions upstream has no way to count, so that is a
     * 503 {@code not_supported} saying so rather than a guess.
     */
    public CompletionStage<ObjectNode> inputTokens(ResponseParams p, String owner) {
        requireBackend();
        return continuations
                .parent(p, null, owner)
                .thenApplyAsync(
                        parent -> {
                            ModelRequest request = modelRequest(
                                    p,
                                    parent.root() != null ? parent.root() : "input_tokens",
                                    false,
                                    context(p, parent.chain(), Items.resolveReferences(p.input(), parent.chain())));
                            Integer n;
                            try {
                                n = backend.countInputTokens(request);
                            } catch (dev.tether.inference.ModelException e) {
                                throw new CompletionException(RunErrors.refusal(e));
                            }
                            if (n == null) {
                                throw new CompletionException(new Refusal(
                                        Condition.NOT_CONFIGURED,
                                        "not_supported",
                                        null,
                                        "Counting input tokens needs the embedded engine (--model): this backend ("
                                                + backend.describe() + ") has no tokenizer Tether can use."));
                            }
                            return Json.object()
                                    .put("object", "response.input_tokens")
                                    .put("input_tokens", n);
                        },
                        workers);
    }

    /**
     * {@code POST /v1/responses/compact}: the request's whole context (chain or conversation, then
     * input) as a compacted window — a {@code compaction} item holding the backend model's summary
     * of everything before the latest user message, then that turn verbatim. Nothing is stored;
     * the client starts a new chain from the window. A context of one turn is a 400: there is
     * nothing to compact.
     */
    public CompletionStage<ObjectNode> compact(ResponseParams request, String owner) {
        requireBackend();
        ResponseParams p = request.withDefaultMaxOutputTokens(backend.defaultMaxOutputTokens());
        return continuations
                .parent(p, null, owner)
                .thenApplyAsync(
                        parent -> {
                            List<ObjectNode> items = parent.chain()
                                    .append(Items.resolveReferences(p.input(), parent.chain()))
                                    .items();
                            ContextAssembler.assemble(p.instructions(), items); // the pairing rules, as for a turn
                            String id = Ids.response();
                            Compactor.Compacted c;
                            try {
                                // A session of its own, dropped at once: the summary is no chain's state.
                                c = compactor.compact(p, id, false, items);
                            } catch (dev.tether.inference.ModelException e) {
                                throw new CompletionException(RunErrors.refusal(e));
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                throw new CompletionException(Refusal.of(
                                        Condition.UNAVAILABLE,
                                        RunErrors.SERVER_SHUTDOWN,
                                        "The server shut down while compacting."));
                            } finally {
                                backend.forget(id);
                            }
                            if (c == null) {
                                throw Refusal.invalid(
                                        "input",
                                        "Nothing to compact: the context has nothing before its latest user message"
                                                + " (that turn is always kept verbatim) but an earlier compaction.");
                            }
                            return c.toJson(id, clock.millis() / 1000);
                        },
                        workers);
    }

    /** The whole context of a turn of {@code p} after {@code chain}, assembled. */
    private static List<ChatMessage> context(ResponseParams p, Chain chain, List<ObjectNode> input) {
        return ContextAssembler.assemble(p.instructions(), chain.append(input).items());
    }

    /** What the backend sees for a turn of {@code p} with its whole {@code context}. */
    private static ModelRequest modelRequest(
            ResponseParams p, String sessionKey, boolean persistent, List<ChatMessage> context) {
        return new ModelRequest(
                p.model(),
                sessionKey,
                persistent,
                context,
                p.toolSpecs(),
                p.toolChoice(),
                p.parallelToolCalls(),
                p.temperature(),
                p.topP(),
                p.maxOutputTokens(),
                p.textFormat(),
                p.topLogprobs());
    }

    /**
     * The session key of a turn that nothing can continue by id (stateless HTTP: {@code
     * store:false}, no {@code previous_response_id} or conversation): its owner, model and the head
     * of its context (the first two messages, the instructions and the first item, as the model
     * sees them: without the ids items are given). Such a client sends the whole history every
     * turn, so its next turn has the same head and lands on this turn's session: the upstream
     * replica whose prefix cache holds the context, and the serialized messages ({@code
     * PrefixCache}), reused only as far as the new context starts with the old. Two conversations
     * that open alike share a session; that costs them reuse, never correctness. Only for a
     * backend whose turns of one session do not wait for each other ({@link
     * ModelBackend#sessionsRunConcurrently}): many identical requests at once must not queue.
     */
    private static String contentKey(String model, List<ChatMessage> context, String owner) {
        int head = Objects.hash(model, context.subList(0, Math.min(2, context.size())));
        return "stateless/" + owner + "/" + Integer.toHexString(head);
    }

    private void requireBackend() {
        if (backend == null) {
            throw new Refusal(
                    Condition.NOT_CONFIGURED,
                    "no_backend",
                    "model",
                    "No model backend is configured. Start Tether with --upstream http://HOST:PORT/v1 "
                            + "(any OpenAI-compatible Chat Completions endpoint: vLLM, llama.cpp, Ollama, OpenAI...).");
        }
    }

    /** @param onConnection the request came over a WebSocket, whose own cache may continue it */
    private CompletionStage<ResponseRun> start(
            ResponseParams p, Continuations.Parent parent, String owner, boolean onConnection) {
        String id = Ids.response();
        String root = parent.root() != null ? parent.root() : id;
        List<ObjectNode> input = Items.resolveReferences(p.input(), parent.chain());
        // Nothing can continue a store:false response by id but its own connection.
        boolean orphan = !p.store() && parent.root() == null && !onConnection;
        List<ChatMessage> messages = context(p, parent.chain(), input);
        String sessionKey = orphan && backend != null && backend.sessionsRunConcurrently()
                ? contentKey(p.model(), messages, owner)
                : root;
        ModelRequest request = modelRequest(p, sessionKey, p.store() && parent.stored(), messages);
        if (inFlight.incrementAndGet() > settings.maxInFlight()) {
            inFlight.decrementAndGet();
            throw new Refusal(
                    Condition.RATE_LIMITED,
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
                input,
                List.of(),
                p.background() ? ResponseStatus.QUEUED : ResponseStatus.IN_PROGRESS,
                null,
                null,
                null,
                null,
                owner);
        ResponseRun run = new ResponseRun(
                start,
                p.store() ? log::persister : null,
                record -> beforeTerminal(record, parent),
                cache::put,
                clock,
                metrics);
        Integer threshold = p.compactThreshold();
        if (threshold != null) {
            List<ObjectNode> context = parent.chain().append(input).items();
            run.compactFirst(turn -> compactor.ifOver(threshold, p, turn, context));
        }
        if (!p.store()) {
            if (orphan && backend != null && sessionKey.equals(root)) {
                // A session of its own, which nothing continues: its state (KV cache, serialized
                // prefix) would only push out the state of sessions that do continue, so the
                // backend drops it at the end.
                run.done().whenComplete((r, e) -> backend.forget(root));
            }
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

    private void beforeTerminal(ResponseRecord record, Continuations.Parent parent) {
        if (parent.conversation() != null) {
            List<ObjectNode> items = new ArrayList<>(record.input());
            items.addAll(record.output());
            conversations.append(parent.conversation(), items);
        }
        if (record.params().store()) {
            cache.put(record);
        }
    }

    /** {@code GET /v1/responses/{id}}: a 404 {@link Refusal} when unknown or not {@code owner}'s. */
    public CompletionStage<ResponseRecord> get(String id, String owner) {
        ResponseRun running = live.get(id);
        if (running != null && running.params().store()) {
            return running.owner().equals(owner)
                    ? CompletableFuture.completedFuture(running.snapshot())
                    : CompletableFuture.failedFuture(notFound(id));
        }
        ResponseRecord cached = continuations.cached(id);
        if (cached != null) {
            log.touch(id);
            return cached.ownedBy(owner)
                    ? CompletableFuture.completedFuture(cached)
                    : CompletableFuture.failedFuture(notFound(id));
        }
        if (!Ids.wellFormed(id, "resp_")) {
            return CompletableFuture.failedFuture(notFound(id));
        }
        return continuations.loadFinished(id).thenApply(loaded -> {
            if (loaded == null || !loaded.record().ownedBy(owner)) {
                throw notFound(id);
            }
            return loaded.record();
        });
    }

    public CompletionStage<ObjectNode> inputItems(String id, String owner, String limit, String order, String after) {
        return get(id, owner).thenApply(r -> Pages.list(r.input(), limit, order, after));
    }

    /** Cancels a running response; a finished one is returned as it is (idempotent). */
    public CompletionStage<ResponseRecord> cancel(String id, String owner) {
        ResponseRun running = live.get(id);
        if (running != null && running.owner().equals(owner)) {
            return running.cancel();
        }
        return get(id, owner);
    }

    /** Deletes a response (cancelling it first if it runs) and forgets the backend state of its chain. */
    public CompletionStage<ObjectNode> delete(String id, String owner) {
        return get(id, owner)
                .thenCompose(r -> {
                    ResponseRun running = live.get(id);
                    CompletionStage<?> stopped =
                            running == null ? CompletableFuture.completedFuture(null) : running.cancel();
                    return stopped.thenCompose(v -> log.delete(id)).thenApply(deleted -> r);
                })
                .thenApply(r -> {
                    cache.remove(id);
                    if (backend != null) {
                        // The chain's KV state holds this response's tokens: deleting it must not leave them on disk.
                        backend.forget(r.rootId());
                    }
                    return Json.object().put("id", id).put("object", "response").put("deleted", true);
                });
    }

    /** A response's events from some point on, ready to be delivered to a listener. */
    public interface Replay {
        /** Delivers the events (then live ones, for a running response), then the end. */
        void deliver(ResponseListener listener);
    }

    /**
     * The events of response {@code id} after sequence number {@code after} (-1 for all): live
     * ones as they come for a running response, the stored ones otherwise. Fails, before anything
     * is delivered, with a 404 {@link Refusal} when unknown and a 400 when {@code after} is not a
     * sequence number the response has sent (a resume past the end would never see it end).
     */
    public CompletionStage<Replay> replay(String id, String owner, int after) {
        ResponseRun running = live.get(id);
        if (running != null && running.owner().equals(owner)) {
            checkResumable(id, after, running.visibleCount());
            return CompletableFuture.completedFuture(listener -> running.subscribe(after, listener));
        }
        return get(id, owner).thenCompose(r -> log.events(id)).thenApply(events -> {
            checkResumable(id, after, events.size());
            return listener -> {
                for (int i = Math.max(0, after + 1); i < events.size(); i++) {
                    byte[] json = events.get(i);
                    listener.onEvent(i, Json.parseStored(json).path("type").asText(), json);
                }
                listener.onEnd();
            };
        });
    }

    private static void checkResumable(String id, int after, int count) {
        if (after >= count) {
            throw Refusal.invalid(
                    "starting_after",
                    "Invalid 'starting_after': response " + id + " has sent events 0 to " + (count - 1)
                            + " so far, got " + after + ".");
        }
    }

    public void unsubscribe(String id, ResponseListener listener) {
        ResponseRun running = live.get(id);
        if (running != null) {
            running.unsubscribe(listener);
        }
    }

    /**
     * The owner of the response whose internal stream is {@code responses/<id>[/…]}, for reads of
     * it over the raw stream API; null when unknown.
     */
    public CompletionStage<String> ownerOf(String id) {
        ResponseRun running = live.get(id);
        if (running != null) {
            return CompletableFuture.completedFuture(running.owner());
        }
        ResponseRecord cached = continuations.cached(id);
        if (cached != null) {
            return CompletableFuture.completedFuture(cached.owner());
        }
        return log.load(id)
                .thenApply(loaded -> loaded == null ? null : loaded.record().owner());
    }

    /** The HTTP-API form of "this id is unknown to a continuation" (OpenAI answers 400, not 404). */
    static Refusal previousNotFound(String id) {
        return Refusal.invalid(
                "previous_response_id",
                "previous_response_not_found",
                "Previous response with id '" + id + "' not found.");
    }

    static Refusal notFound(String id) {
        return Refusal.notFound("response_id", "Response with id '" + id + "' not found.");
    }

    /** Ends running responses as failed (their terminal events are stored), then stops. */
    @Override
    public void close() {
        List<CompletableFuture<ResponseRecord>> ending = new ArrayList<>();
        for (ResponseRun run : live.values()) {
            run.abort(RunErrors.SERVER_SHUTDOWN, "the server shut down while this response was being generated");
            ending.add(run.done().toCompletableFuture());
        }
        try {
            CompletableFuture.allOf(ending.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "some responses did not end within 5 s of shutdown: " + e);
        }
        workers.shutdownNow();
        models.close();
        if (backend != null) {
            backend.close();
        }
    }
}
