package dev.tether.inference.embedded;

import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.inference.embedded.disk.DurableFile;
import dev.tether.inference.embedded.gguf.DemoModel;
import dev.tether.inference.embedded.llama.LlamaContext;
import dev.tether.inference.embedded.llama.LlamaException;
import dev.tether.inference.embedded.llama.LlamaModel;
import java.io.IOException;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The embedded engine as a {@link ModelBackend}: one GGUF model in this process (llama.cpp on
 * the CPU), with each session's KV cache kept between turns so a turn evaluates only the tokens
 * after the longest common prefix with what the session holds.
 *
 * <p>Thread-safe: {@link #generate} may be called from any number of threads; the turns are
 * scheduled fairly on one engine thread ({@link TurnScheduler}) per {@link EngineGroup}.
 */
public final class EmbeddedBackend implements ModelBackend {
    private static final System.Logger LOG = System.getLogger(EmbeddedBackend.class.getName());
    /** Every response's metadata says so when the output comes from the random demo model. */
    public static final String DEMO_NOTICE_KEY = "tether_demo_model";

    static final String DEMO_NOTICE = "Output is random text from Tether's generated demo model (random weights). "
            + "Start the server with --model FILE.gguf for real answers.";

    private final EmbeddedSettings settings;
    private final LlamaModel model;
    private final List<EngineGroup> groups;
    private final EngineGroup.Router router;
    private final ChatPrompt chat;
    private final PromptTokenizer tokenizer;
    private final SpillStore spill;
    private final int sessionContext;
    private final String description;
    /** The demo model's logit shaping ({@link DemoShaping}), or null for a real model. */
    private final DemoShaping demoShaping;

    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed; // guarded by lifecycle

    private EmbeddedBackend(
            EmbeddedSettings settings,
            LlamaModel model,
            List<LlamaContext> contexts,
            int sequences,
            int sessionContext,
            InstantSource clock)
            throws IOException {
        this.settings = settings;
        this.model = model;
        this.demoShaping = settings.demo() ? DemoShaping.of(model) : null;
        this.sessionContext = sessionContext;
        this.chat = new ChatPrompt(model);
        this.tokenizer = new PromptTokenizer(model);
        this.spill = settings.spillDir() == null ? null : spillStore(settings, model, clock);
        this.groups = EngineGroup.start(model, contexts, sequences, spill, settings);
        this.router = new EngineGroup.Router(groups);
        this.description = "embedded llama.cpp: " + model.description() + " from "
                + settings.model().getFileName()
                + (settings.demo() ? " (DEMO MODEL: random weights, its output is random text)" : "");
    }

    private static SpillStore spillStore(EmbeddedSettings settings, LlamaModel model, InstantSource clock)
            throws IOException {
        long budget = settings.kvDiskBudgetBytes() > 0
                ? settings.kvDiskBudgetBytes()
                : EmbeddedSettings.defaultKvDiskBudget(
                        settings.kvBudgetBytes() > 0 ? settings.kvBudgetBytes() : EmbeddedSettings.defaultKvBudget(),
                        settings.spillDir());
        return new SpillStore(
                settings.spillDir(), model.fingerprint(), budget, settings.spillTtl(), clock, DurableFile.FSYNC);
    }

    /** Loads the model and starts the engine thread; the message of a failure names the cause. */
    public static EmbeddedBackend start(EmbeddedSettings settings) throws LlamaException, IOException {
        return start(settings, InstantSource.system());
    }

    /** {@link #start(EmbeddedSettings)} with the clock that times spill files (write times and the TTL). */
    public static EmbeddedBackend start(EmbeddedSettings settings, InstantSource clock)
            throws LlamaException, IOException {
        LlamaModel model = settings.demo() ? loadDemo(settings.model()) : LlamaModel.load(settings.model());
        try {
            long budget = settings.kvBudgetBytes() > 0 ? settings.kvBudgetBytes() : EmbeddedSettings.defaultKvBudget();
            int trained = model.contextTrain() > 0 ? model.contextTrain() : 4096;
            int session = settings.sessionContext() > 0 ? settings.sessionContext() : Math.min(trained, 8192);
            int n = settings.groups();
            int sequences = (settings.sequences() + n - 1) / n;
            int cells = EngineGroup.cells(model, budget, n, sequences, session);
            List<LlamaContext> contexts = new java.util.ArrayList<>();
            EmbeddedBackend backend;
            try {
                for (int i = 0; i < n; i++) {
                    contexts.add(new LlamaContext(model, cells, sequences, settings.batchSize(), settings.threads()));
                }
                backend = new EmbeddedBackend(settings, model, contexts, sequences, Math.min(session, cells), clock);
            } catch (LlamaException | IOException | RuntimeException e) {
                contexts.forEach(LlamaContext::close);
                throw e;
            }
            LOG.log(
                    System.Logger.Level.INFO,
                    "{0}; chat template: {1}; KV cache: {2} tokens ({3} MiB) for up to {4} sessions of up to {5} tokens"
                            + " in {6} engine group(s); spill: {7}",
                    backend.description,
                    backend.chat.templateName(),
                    (long) cells * n,
                    (long) cells * n * model.bytesPerToken() >> 20,
                    sequences * n,
                    backend.sessionContext,
                    n,
                    settings.spillDir() == null ? "off" : settings.spillDir());
            return backend;
        } catch (LlamaException | IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Loads the generated demo model, regenerating it first if it does not load: it is ours to
     * rewrite, and a file that a crash or a full disk truncated must not stop the server from
     * starting. (A {@code --model} the user gave that fails to load stays a start-up error.)
     */
    private static LlamaModel loadDemo(Path file) throws LlamaException, IOException {
        try {
            return LlamaModel.load(file);
        } catch (LlamaException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "the demo model {0} does not load ({1}); generating it again",
                    file,
                    e.getMessage());
            DemoModel.generate(file, DemoModel.DEMO_SIZE, DemoModel.DEMO_SEED);
            return LlamaModel.load(file);
        }
    }

    @Override
    public ModelResult generate(ModelRequest request, ModelSink sink) throws ModelException, InterruptedException {
        Turn turn;
        TurnScheduler scheduler;
        // The read lock keeps close() from freeing the model while this thread tokenizes.
        lifecycle.readLock().lock();
        try {
            if (closed) throw new ModelException(ModelException.Kind.UNAVAILABLE, "the embedded engine is shut down");
            turn = turn(request);
            scheduler = router.route(request.sessionKey()).scheduler();
            scheduler.submit(turn);
        } finally {
            lifecycle.readLock().unlock();
        }
        sink.sent();
        List<dev.tether.inference.ToolSpec> callable = AnswerGrammar.callable(request);
        ToolCallParser calls = callable.isEmpty()
                ? null
                : new ToolCallParser(
                        sink,
                        callable.stream()
                                .map(dev.tether.inference.ToolSpec::name)
                                .collect(java.util.stream.Collectors.toSet()));
        ModelSink out = calls != null ? calls : sink;
        try {
            while (true) {
                switch (turn.next()) {
                    case Turn.Event.Text t -> out.text(t.delta());
                    case Turn.Event.Logprob l -> out.logprobs(List.of(l.token()));
                    case Turn.Event.End e -> {
                        if (calls == null) {
                            return e.result();
                        }
                        calls.finish();
                        return calls.calls() > 0 && e.result().finish() == ModelResult.Finish.STOP
                                ? new ModelResult(
                                        ModelResult.Finish.TOOL_CALLS,
                                        e.result().usage())
                                : e.result();
                    }
                    case Turn.Event.Failed f -> throw f.error();
                }
            }
        } catch (InterruptedException | RuntimeException e) {
            scheduler.cancel(turn);
            throw e;
        }
    }

    private Turn turn(ModelRequest request) throws ModelException {
        int[] prompt = promptTokens(request);
        int room = sessionContext - prompt.length;
        int limit = request.maxOutputTokens() != null
                ? request.maxOutputTokens()
                : settings.defaultMaxOutput() > 0 ? settings.defaultMaxOutput() : room;
        double temperature = request.temperature() == null ? 1.0 : request.temperature();
        double topP = request.topP() == null ? 1.0 : request.topP();
        return new Turn(
                request.sessionKey(),
                request.persistent(),
                prompt,
                Math.max(1, Math.min(limit, room)),
                new Sampler(
                        temperature,
                        topP,
                        ThreadLocalRandom.current().nextLong(),
                        demoShaping,
                        AnswerGrammar.of(request, model)),
                new TextAssembler(chat.stops()),
                request.topLogprobs() == null ? -1 : request.topLogprobs());
    }

    /** Calls {@link ModelSink#sent} once its request is under way. */
    @Override
    public boolean reportsSent() {
        return true;
    }

    @Override
    public String describe() {
        return description;
    }

    /** Exact: the prompt as this engine would render and tokenize it, however long. */
    @Override
    public Integer countInputTokens(ModelRequest request) throws ModelException {
        return tokenizer.tokenize(chat.render(request.messages(), request.tools()), Integer.MAX_VALUE).length;
    }

    @Override
    public Integer defaultMaxOutputTokens() {
        return settings.defaultMaxOutput() > 0 ? settings.defaultMaxOutput() : null;
    }

    /** The one model this engine runs, named by its file without {@code .gguf}; any name a client sends reaches it. */
    @Override
    public List<dev.tether.inference.ModelInfo> models() {
        String file = settings.model().getFileName().toString();
        String id = file.endsWith(".gguf") ? file.substring(0, file.length() - ".gguf".length()) : file;
        return List.of(new dev.tether.inference.ModelInfo(id, "tether", 0));
    }

    @Override
    public Map<String, String> responseMetadata() {
        return settings.demo() ? Map.of(DEMO_NOTICE_KEY, DEMO_NOTICE) : Map.of();
    }

    /** The prompt's tokens; refused as soon as it is known not to fit the session context. */
    int[] promptTokens(ModelRequest request) throws ModelException {
        return tokenizer.tokenize(chat.render(request.messages(), request.tools()), sessionContext);
    }

    /**
     * Drops the session's KV state and deletes its spill file, on the engine thread: at once if
     * the session is idle, when its turn ends if one is running. Returns at once.
     */
    @Override
    public void forget(String sessionKey) {
        lifecycle.readLock().lock();
        try {
            if (!closed) {
                router.forget(sessionKey);
                // Every group: one the router no longer remembered may still hold the session.
                for (EngineGroup g : groups) g.scheduler().forget(sessionKey);
            }
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** Token and cache counters since start. */
    public EngineStats stats() {
        return EngineGroup.stats(groups);
    }

    /** Bytes of KV state the resident sessions hold now (as of the engine's last step). Thread-safe. */
    public long residentKvBytes() {
        return stats().residentTokens() * model.bytesPerToken();
    }

    /** Bytes of spill files in the spill directory now (0 when spilling is off). Thread-safe. */
    public long spilledKvBytes() {
        return spill == null ? 0 : spill.bytes();
    }

    /** Turns waiting for the engine now. Thread-safe. */
    public int waitingTurns() {
        return groups.stream().mapToInt(g -> g.scheduler().waitingTurns()).sum();
    }

    /** Turns refused since start because {@code maxWaitingTurns} were already waiting. Thread-safe. */
    public long refusedTurns() {
        return groups.stream().mapToLong(g -> g.scheduler().refusedTurns()).sum();
    }

    /**
     * Characters of prompt text tokenized since start: the CPU spent before any limit, which a
     * prompt far over the context must not drive up. Thread-safe.
     */
    public long tokenizedChars() {
        return tokenizer.tokenizedChars();
    }

    /**
     * Tokens of {@code text} as this model sees them, markers parsed as control tokens (for
     * tests and tools; never for client text).
     */
    public int[] tokenize(String text) {
        return model.tokenize(text, false);
    }

    /**
     * Stops the engine (spilling idle stored sessions), then frees the context and the model.
     * Idempotent. If the engine thread does not stop in time, the native memory is left to the
     * process's exit rather than freed under it.
     */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            boolean stopped = true;
            for (EngineGroup g : groups) stopped &= g.scheduler().stop();
            if (stopped) {
                groups.forEach(g -> g.ctx().close());
                model.close();
            } else {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "the engine thread did not stop within 30 s; not freeing its model");
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
