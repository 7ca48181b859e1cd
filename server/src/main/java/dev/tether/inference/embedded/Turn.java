package dev.tether.inference.embedded;

import dev.tether.inference.ModelException;
import dev.tether.inference.ModelResult;
import dev.tether.inference.TokenLogprob;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One assistant turn in the engine: the prompt's tokens, how to sample, and the channel its
 * output travels back on. The caller's thread reads events with {@link #next()}; everything
 * else is engine-thread state.
 *
 * <p>{@link #cancel()} and {@link #next()} are thread-safe; the rest is confined to the engine
 * thread.
 */
final class Turn {
    /** What the caller receives, in order: text deltas, then exactly one end or failure. */
    sealed interface Event {
        record Text(String delta) implements Event {}

        /** The log-probability of the next token, whose text follows in later {@link Text} events. */
        record Logprob(TokenLogprob token) implements Event {}

        record End(ModelResult result) implements Event {}

        record Failed(ModelException error) implements Event {}
    }

    final String key;
    final boolean persistent;
    final int[] prompt;
    final int maxNew;
    final Sampler sampler;
    final TextAssembler text;
    /** Alternatives to report with each token's log-probability, or -1 for none at all. */
    final int topLogprobs;

    final long submittedNanos = System.nanoTime();
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile boolean cancelled;

    // Engine-thread state.
    KvSession session;
    /** Prompt tokens already in the KV cache (the cached prefix, then what was prefilled). */
    int fed;

    int cached;
    int restored;
    long restoreNanos;
    /** Whether the spill store was asked about this turn's session, and what it had. */
    boolean spillChecked;

    SpillStore.Header spillHeader;
    /** A sampled token that still has to go through the model, or -1. */
    int pending = -1;

    int generated;
    long firstTokenNanos;
    /** Batch bookkeeping for the step in progress. */
    int batchTokens;

    int logitsIndex = -1;

    Turn(
            String key,
            boolean persistent,
            int[] prompt,
            int maxNew,
            Sampler sampler,
            TextAssembler text,
            int topLogprobs) {
        this.topLogprobs = topLogprobs;
        this.key = key;
        this.persistent = persistent;
        this.prompt = prompt;
        this.maxNew = maxNew;
        this.sampler = sampler;
        this.text = text;
    }

    boolean prefilling() {
        return fed < prompt.length;
    }

    /** Cells the turn may occupy at most: its prompt plus its output limit. */
    int cellsNeeded() {
        return prompt.length + maxNew;
    }

    /** The log line of a turn that left the engine ({@code error}: why it failed, or null). */
    String summary(ModelException error) {
        return String.format(
                "turn %s: prompt=%d cached=%d prefilled=%d restored=%d restore_ms=%d ttft_ms=%d output=%d total_ms=%d%s",
                key.length() > 12 ? key.substring(key.length() - 12) : key,
                prompt.length,
                cached,
                prompt.length - cached,
                restored,
                restoreNanos / 1_000_000,
                firstTokenNanos == 0 ? -1 : (firstTokenNanos - submittedNanos) / 1_000_000,
                generated,
                (System.nanoTime() - submittedNanos) / 1_000_000,
                cancelled ? " cancelled" : error != null ? " failed: " + error.getMessage() : "");
    }

    void cancel() {
        cancelled = true;
    }

    boolean cancelled() {
        return cancelled;
    }

    /** The next event; blocks. */
    Event next() throws InterruptedException {
        return events.take();
    }

    void logprob(TokenLogprob token) {
        events.add(new Event.Logprob(token));
    }

    void emit(String delta) {
        if (!delta.isEmpty()) events.add(new Event.Text(delta));
    }

    void end(ModelResult.Finish finish) {
        emit(text.finish());
        events.add(new Event.End(new ModelResult(finish, new ModelResult.Usage(prompt.length, cached, generated))));
    }

    void fail(ModelException error) {
        events.add(new Event.Failed(error));
    }
}
