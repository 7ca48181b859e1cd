package dev.tether.inference.embedded;

import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.inference.embedded.llama.LlamaContext;
import dev.tether.inference.embedded.llama.LlamaException;
import dev.tether.inference.embedded.llama.LlamaModel;
import java.io.IOException;
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
 * scheduled fairly on one engine thread ({@link TurnScheduler}).
 */
public final class EmbeddedBackend implements ModelBackend {
    private static final System.Logger LOG = System.getLogger(EmbeddedBackend.class.getName());
    /** Every response's metadata says so when the output comes from the random demo model. */
    public static final String DEMO_NOTICE_KEY = "tether_demo_model";

    static final String DEMO_NOTICE = "Output is random text from Tether's generated demo model (random weights). "
            + "Start the server with --model FILE.gguf for real answers.";

    private final EmbeddedSettings settings;
    private final LlamaModel model;
    private final LlamaContext ctx;
    private final TurnScheduler scheduler;
    private final ChatPrompt chat;
    private final PromptTokenizer tokenizer;
    private final int sessionContext;
    private final String description;
    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed; // guarded by lifecycle

    private EmbeddedBackend(EmbeddedSettings settings, LlamaModel model, LlamaContext ctx, int sessionContext)
            throws IOException {
        this.settings = settings;
        this.model = model;
        this.ctx = ctx;
        this.sessionContext = sessionContext;
        this.chat = new ChatPrompt(model);
        this.tokenizer = new PromptTokenizer(model);
        SpillStore spill =
                settings.spillDir() == null ? null : new SpillStore(settings.spillDir(), model.fingerprint());
        KvCache cache = new KvCache(ctx, settings.sequences(), spill);
        this.scheduler =
                new TurnScheduler(model, ctx, cache, settings.ephemeralTtl().toNanos());
        this.description = "embedded llama.cpp: " + model.description() + " from "
                + settings.model().getFileName()
                + (settings.demo() ? " (DEMO MODEL: random weights, its output is random text)" : "");
    }

    /** Loads the model and starts the engine thread; the message of a failure names the cause. */
    public static EmbeddedBackend start(EmbeddedSettings settings) throws LlamaException, IOException {
        LlamaModel model = LlamaModel.load(settings.model());
        try {
            long budget = settings.kvBudgetBytes() > 0 ? settings.kvBudgetBytes() : EmbeddedSettings.defaultKvBudget();
            int trained = model.contextTrain() > 0 ? model.contextTrain() : 4096;
            int session = settings.sessionContext() > 0 ? settings.sessionContext() : Math.min(trained, 8192);
            long byBudget = budget / model.bytesPerToken();
            int cells = (int) (Math.min(byBudget, (long) settings.sequences() * session) / 256 * 256);
            if (cells < 256) {
                throw new LlamaException("a KV budget of " + budget + " bytes holds only " + byBudget
                        + " tokens of this model (" + model.bytesPerToken()
                        + " bytes per token); give --kv-budget at least "
                        + 256 * model.bytesPerToken() + " bytes");
            }
            LlamaContext ctx =
                    new LlamaContext(model, cells, settings.sequences(), settings.batchSize(), settings.threads());
            EmbeddedBackend backend;
            try {
                backend = new EmbeddedBackend(settings, model, ctx, Math.min(session, cells));
            } catch (IOException | RuntimeException e) {
                ctx.close();
                throw e;
            }
            LOG.log(
                    System.Logger.Level.INFO,
                    "{0}; chat template: {1}; KV cache: {2} tokens ({3} MiB) for up to {4} sessions of up to {5} tokens;"
                            + " spill: {6}",
                    backend.description,
                    backend.chat.templateName(),
                    cells,
                    cells * model.bytesPerToken() >> 20,
                    settings.sequences(),
                    backend.sessionContext,
                    settings.spillDir() == null ? "off" : settings.spillDir());
            return backend;
        } catch (LlamaException | IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    @Override
    public ModelResult generate(ModelRequest request, ModelSink sink) throws ModelException, InterruptedException {
        Turn turn;
        // The read lock keeps close() from freeing the model while this thread tokenizes.
        lifecycle.readLock().lock();
        try {
            if (closed) throw new ModelException(ModelException.Kind.UNAVAILABLE, "the embedded engine is shut down");
            turn = turn(request);
            scheduler.submit(turn);
        } finally {
            lifecycle.readLock().unlock();
        }
        try {
            while (true) {
                switch (turn.next()) {
                    case Turn.Event.Text t -> sink.text(t.delta());
                    case Turn.Event.End e -> {
                        return e.result();
                    }
                    case Turn.Event.Failed f -> throw f.error();
                }
            }
        } catch (InterruptedException | RuntimeException e) {
            turn.cancel();
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
                new Sampler(temperature, topP, ThreadLocalRandom.current().nextLong()),
                new TextAssembler(chat.stops()));
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public Map<String, String> responseMetadata() {
        return settings.demo() ? Map.of(DEMO_NOTICE_KEY, DEMO_NOTICE) : Map.of();
    }

    /** Token and cache counters since start. */
    public EngineStats stats() {
        return scheduler.stats();
    }

    /** The prompt's tokens; refused as soon as it is known not to fit the session context. */
    int[] promptTokens(ModelRequest request) throws ModelException {
        return tokenizer.tokenize(chat.render(request.messages(), request.tools()), sessionContext);
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
            if (scheduler.stop()) {
                ctx.close();
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
