package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.metrics.Metrics;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * One response being generated: it numbers the events, makes each visible once it is durable
 * (at once for {@code store:false}, which never touches disk), replays them to late or
 * reconnecting listeners, and ends with exactly one terminal event. A disconnecting listener
 * never stops it; only {@link #cancel()} does.
 *
 * <p>Thread-safe: every state change happens under the instance lock.
 */
public final class ResponseRun {
    private static final System.Logger LOG = System.getLogger(ResponseRun.class.getName());

    private final ResponseRecord start;
    private final Persister persister;
    private final Consumer<ResponseRecord> beforeTerminal;
    private final Consumer<ResponseRecord> retracted;
    private final java.time.InstantSource clock;
    private final List<Event> events = new ArrayList<>();
    private final List<ResponseListener> listeners = new ArrayList<>();
    private final OutputBuilder out = new OutputBuilder(this::emit);
    private final CompletableFuture<ResponseRecord> done = new CompletableFuture<>();
    private ResponseStatus status;
    private ResponseRecord terminal;
    private int terminalSeq = -1;
    private int visible;
    private boolean persistenceFailed;
    private Thread worker;
    private boolean cancelRequested;
    private ObjectNode abortError;
    private final Metrics metrics;
    /** When generation started, and when the latest fragment came (System.nanoTime); 0 before. */
    private long startedNanos;

    private long lastOutputNanos;
    /** Automatic compaction before generating, or null; set before the run executes. */
    private Compactor.Before compactFirst;
    /**
     * The run's state when it started, until {@code response.created} and {@code
     * response.in_progress} are out ({@link #announce}): they are sent once the request is on its
     * way to the model, so their serialization and delivery overlap the model's first token
     * instead of delaying the request.
     */
    private ResponseRecord unannounced;

    /** The request's echoed fields, serialized for the run's first event that shows them. */
    private ResponseJson.Echo echo;

    /** The model's answer has been taken ({@link #endAsAnswered}). */
    private boolean answerTaken;

    /** A steer stops the run at the next fragment boundary ({@code steered}), or after its first one. */
    private boolean steered;

    private boolean steerAfterFirst;

    /** How a run takes a steer ({@link #steer}). */
    public enum Steering {
        /** It stops at the next fragment boundary and ends incomplete, reason {@code steered}. */
        STOPPING,
        /** No output yet: it stops right after its first fragment. */
        PENDING,
        /** It has ended (or is ending for another reason): nothing changes. */
        ENDED,
        /**
         * It has started a tool call: stopping would leave a call without its output, which no
         * successor could continue from. It runs on; the steer is refused.
         */
        CALLING
    }

    /**
     * Where a stored run's events go; {@code null} for {@code store:false}. Events are offered one
     * by one as they are emitted, then flushed once per step of the run (the announcement, a
     * fragment, the end; a tool call's item joins the step of its first arguments), so that the
     * events of one step are made durable together.
     */
    interface Persister {
        /** Takes the next event; {@code last} for the terminal one. Under the run's lock. */
        void offer(byte[] event, boolean last);

        /** Starts making the offered events durable (now, or after the append in flight). */
        void flush();
    }

    /**
     * @param persisters makes this run's persister, or is null for {@code store:false}
     * @param beforeTerminal gets the final record once, before any client can see it
     * @param retracted  gets the failed record that replaces a final one no client saw, when the
     *     store refused the run only after it ended (the first hook is not called again)
     * @param clock      stamps {@code completed_at}
     */
    ResponseRun(
            ResponseRecord start,
            java.util.function.Function<ResponseRun, Persister> persisters,
            Consumer<ResponseRecord> beforeTerminal,
            Consumer<ResponseRecord> retracted,
            java.time.InstantSource clock,
            Metrics metrics) {
        this.metrics = metrics;
        this.start = start;
        this.persister = persisters == null ? null : persisters.apply(this);
        this.beforeTerminal = beforeTerminal;
        this.retracted = retracted;
        this.clock = clock;
        this.status = start.status();
    }

    public String id() {
        return start.id();
    }

    public ResponseParams params() {
        return start.params();
    }

    /** The principal that created the response. */
    public String owner() {
        return start.owner();
    }

    /** Completes once the terminal event is visible (durable when stored). */
    public CompletionStage<ResponseRecord> done() {
        return done;
    }

    /** The final record once the terminal event is visible, else null. */
    public ResponseRecord finished() {
        return done.getNow(null);
    }

    public synchronized ResponseRecord snapshot() {
        return terminal != null ? terminal : with(status, out.itemsSoFar(), null, null, null);
    }

    /** Background responses announce themselves before they run. */
    synchronized void queued() {
        status = ResponseStatus.QUEUED;
        emit(OutputBuilder.event("response.queued").set("response", json(snapshot())));
        persist();
    }

    /** Compacts the context first when it is over the threshold ({@code context_management}); before {@link #execute}. */
    void compactFirst(Compactor.Before step) {
        compactFirst = step;
    }

    /** Runs the backend on the calling (virtual) thread until a terminal event. */
    void execute(ModelBackend backend, ModelRequest request) {
        synchronized (this) {
            if (terminal != null) {
                return;
            }
            if (cancelRequested || abortError != null) {
                finish(abortError != null ? ResponseStatus.FAILED : ResponseStatus.CANCELLED, null, abortError, null);
                return;
            }
            worker = Thread.currentThread();
            startedNanos = System.nanoTime();
            status = ResponseStatus.IN_PROGRESS;
            unannounced = snapshot();
            // Compaction is a model call of its own, before the turn's request; a backend that
            // does not report its request sent has it under way from the call on.
            if (compactFirst != null || backend == null || !backend.reportsSent()) {
                announce();
                persist();
            }
        }
        if (!start.params().generate() || backend == null) {
            // WebSocket warm-up (generate:false): state is prepared, no output is produced.
            end(ResponseStatus.COMPLETED, ResponseJson.usage(0, 0, 0), null, null);
            return;
        }
        try {
            Compactor.Done compacted = compactFirst == null ? null : compactFirst.apply(request);
            if (compacted != null) {
                synchronized (this) {
                    out.item(compacted.item());
                    persist();
                }
            }
            ModelResult result = generate(backend, compacted == null ? request : compacted.request());
            endAsAnswered(
                    result.finish(),
                    compacted == null ? result.usage() : Compactor.sum(result.usage(), compacted.usage()));
        } catch (InterruptedException e) {
            ObjectNode abort = abortError();
            if (abort != null) {
                end(ResponseStatus.FAILED, null, abort, null);
            } else if (steeredOnly()) {
                end(ResponseStatus.INCOMPLETE, null, null, "steered");
            } else {
                end(ResponseStatus.CANCELLED, null, null, null);
            }
        } catch (ModelException e) {
            end(ResponseStatus.FAILED, null, RunErrors.error(RunErrors.code(e.kind()), e.getMessage()), null);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "response " + id() + " failed unexpectedly", e);
            end(ResponseStatus.FAILED, null, RunErrors.error(RunErrors.SERVER_ERROR, "internal error"), null);
        } finally {
            Thread.interrupted(); // a cancel racing the end must not leak into the pooled thread
        }
    }

    /**
     * One turn; with {@code truncation: "auto"}, a context the backend refuses as too long is cut
     * ({@link Truncation#dropOldestTurn}) and tried again until it fits or only the last turn is
     * left. A refusal comes before any output, so nothing was emitted for the longer attempt.
     */
    private ModelResult generate(ModelBackend backend, ModelRequest request)
            throws ModelException, InterruptedException {
        ModelRequest attempt = request;
        while (true) {
            try {
                return backend.generate(attempt, new LockedSink());
            } catch (ModelException e) {
                ModelRequest shorter = e.kind() == ModelException.Kind.CONTEXT_LENGTH_EXCEEDED
                                && start.params().truncateAuto()
                        ? Truncation.dropOldestTurn(attempt)
                        : null;
                if (shorter == null) {
                    throw e;
                }
                attempt = shorter;
            }
        }
    }

    /**
     * Ends the run as the model's answer says: once, from whichever comes first, the backend's
     * word on its own thread ({@link LockedSink#answered}) or {@link #generate}'s return.
     */
    private synchronized void endAsAnswered(ModelResult.Finish finish, ModelResult.Usage u) {
        if (answerTaken) {
            return;
        }
        answerTaken = true;
        metrics.tokens(u.inputTokens(), u.cachedTokens(), u.outputTokens());
        ObjectNode usage = ResponseJson.usage(u.inputTokens(), u.cachedTokens(), u.outputTokens());
        switch (finish) {
            case LENGTH -> end(ResponseStatus.INCOMPLETE, usage, null, "max_output_tokens");
            case CONTENT_FILTER -> end(ResponseStatus.INCOMPLETE, usage, null, "content_filter");
            case STOP, TOOL_CALLS -> end(ResponseStatus.COMPLETED, usage, null, null);
        }
    }

    private synchronized ObjectNode abortError() {
        return abortError;
    }

    private synchronized boolean steeredOnly() {
        return steered && !cancelRequested;
    }

    private synchronized void end(ResponseStatus s, ObjectNode usage, ObjectNode error, String incomplete) {
        if (terminal == null) {
            if (steered && error == null && s != ResponseStatus.CANCELLED) {
                // the model ended on its own while the steer was being taken: the steer still wins
                finish(ResponseStatus.INCOMPLETE, usage, null, "steered");
            } else {
                finish(s, usage, error, incomplete);
            }
        }
    }

    /**
     * A steer ({@code response.steer} over WebSocket): the run stops at the next fragment boundary,
     * or after its first fragment when none came yet, and ends {@code incomplete} with reason
     * {@code steered}, keeping its partial output. {@code decided} runs under this run's lock with
     * the outcome before anything changes, so what it records or sends comes before the terminal
     * event and before any listener's {@code onEnd}. Idempotent.
     */
    public synchronized Steering steer(java.util.function.Consumer<Steering> decided) {
        Steering s;
        if (terminal != null || cancelRequested || abortError != null) {
            s = Steering.ENDED;
        } else if (!steered && out.callsStarted()) {
            s = Steering.CALLING;
        } else if (steered || lastOutputNanos != 0) {
            s = Steering.STOPPING;
        } else {
            s = Steering.PENDING;
        }
        decided.accept(s);
        if (s == Steering.STOPPING) {
            stopForSteer();
        } else if (s == Steering.PENDING) {
            steerAfterFirst = true;
        }
        return s;
    }

    private void stopForSteer() {
        if (!steered) {
            steered = true;
            if (worker != null) {
                worker.interrupt();
            }
        }
    }

    /** Asks the run to stop; completes with the final record (idempotent). */
    public synchronized CompletionStage<ResponseRecord> cancel() {
        if (terminal == null && !cancelRequested) {
            cancelRequested = true;
            if (worker != null) {
                worker.interrupt();
            } else if (status == ResponseStatus.QUEUED) {
                finish(ResponseStatus.CANCELLED, null, null, null);
            }
        }
        return done;
    }

    private void finish(ResponseStatus s, ObjectNode usage, ObjectNode error, String incomplete) {
        announce(); // before the terminal event's sequence number is taken
        List<ObjectNode> output = out.finish(s == ResponseStatus.COMPLETED ? "completed" : "incomplete");
        status = s;
        ResponseRecord record = with(s, output, usage, error, incomplete);
        beforeTerminal.accept(record);
        terminal = record;
        terminalSeq = events.size();
        emit(OutputBuilder.event(s.terminalEvent()).set("response", json(record)));
        persist();
    }

    private ResponseRecord with(
            ResponseStatus s, List<ObjectNode> output, ObjectNode usage, ObjectNode error, String incomplete) {
        Long completedAt = s == ResponseStatus.COMPLETED ? clock.millis() / 1000 : null;
        return new ResponseRecord(
                start.id(),
                start.createdAt(),
                start.params(),
                start.rootId(),
                start.before(),
                start.input(),
                output,
                s,
                usage,
                error,
                incomplete,
                completedAt,
                start.owner());
    }

    /**
     * Sends {@code response.created} and {@code response.in_progress} if they are still due: when
     * the backend reports the request sent, or right before any other event of the run.
     */
    private void announce() {
        ResponseRecord at = unannounced;
        if (at != null) {
            unannounced = null;
            emit(OutputBuilder.event("response.created").set("response", json(at)));
            emit(OutputBuilder.event("response.in_progress").set("response", json(at)));
        }
    }

    /** A record of this run as its events show it (the request's echoed fields written once). */
    private ObjectNode json(ResponseRecord r) {
        if (echo == null) {
            echo = ResponseJson.Echo.of(start.params());
        }
        return ResponseJson.render(r, echo);
    }

    private void emit(ObjectNode event) {
        announce();
        int seq = events.size();
        String type = event.get("type").asText();
        event.put("sequence_number", seq);
        byte[] json = Json.bytes(event);
        events.add(new Event(type, json));
        if (persister == null || persistenceFailed) {
            visibleUpTo(events.size());
        } else {
            persister.offer(json, seq == terminalSeq);
        }
    }

    /**
     * Hands what was emitted since the last call to the persister as one append: after each step
     * that emits (the announcement, a fragment, the end). {@link #finish} ends with it, so the
     * terminal event is never left unsent. Under the lock.
     */
    private void persist() {
        if (persister != null && !persistenceFailed) {
            persister.flush();
        }
    }

    /** The persister's acknowledgement: events {@code [0, count)} are durable. */
    synchronized void durable(int count) {
        visibleUpTo(count);
    }

    /** The store refused an event: the run stops, and what it has is shown without durability. */
    synchronized void storageFailed(String message) {
        if (!persistenceFailed) {
            persistenceFailed = true;
            LOG.log(System.Logger.Level.WARNING, "response " + id() + " cannot be persisted: " + message);
            String why = "the response could not be stored: " + message;
            if (terminal != null && visible <= terminalSeq) {
                failUnseenEnd(RunErrors.error(RunErrors.STORAGE_UNAVAILABLE, why));
            } else {
                abort(RunErrors.STORAGE_UNAVAILABLE, why);
            }
        }
        visibleUpTo(events.size());
    }

    /**
     * The model finished before the store's refusal came (a fast model, a busy writer), and no
     * client has seen the end, which waits to be durable: the response was not stored, so it ends
     * failed, its output kept, as when the refusal comes first. The hook gets the new record.
     */
    private void failUnseenEnd(ObjectNode error) {
        events.subList(terminalSeq, events.size()).clear();
        status = ResponseStatus.FAILED;
        terminal = with(ResponseStatus.FAILED, terminal.output(), terminal.usage(), error, null);
        retracted.accept(terminal);
        terminalSeq = events.size();
        emit(OutputBuilder.event(status.terminalEvent()).set("response", json(terminal)));
    }

    /** Stops the run and ends it as failed with {@code code} (shutdown, storage failure). */
    synchronized void abort(String code, String message) {
        if (terminal != null || abortError != null) {
            return;
        }
        abortError = RunErrors.error(code, message);
        if (worker != null) {
            worker.interrupt();
        } else {
            finish(ResponseStatus.FAILED, null, abortError, null);
        }
    }

    private void visibleUpTo(int count) {
        while (visible < count) {
            Event e = events.get(visible);
            for (ResponseListener l : listeners) {
                l.onEvent(visible, e.type, e.json);
            }
            visible++;
        }
        if (terminalSeq >= 0 && visible > terminalSeq && !done.isDone()) {
            // done first: a client that saw the end may continue at once, and must find the run finished
            done.complete(terminal);
            // counted as clients see it: once, after a storage failure may have turned it into one
            metrics.responseFinished(terminal.status().name().toLowerCase(java.util.Locale.ROOT));
            listeners.forEach(ResponseListener::onEnd);
            listeners.clear();
        }
    }

    /** How many events clients can see so far (durable ones, for a stored response). */
    public synchronized int visibleCount() {
        return visible;
    }

    /** Delivers events after {@code after} (-1 for all), then live ones, then the end. */
    public synchronized void subscribe(int after, ResponseListener listener) {
        for (int i = Math.max(0, after + 1); i < visible; i++) {
            listener.onEvent(i, events.get(i).type, events.get(i).json);
        }
        if (done.isDone()) {
            listener.onEnd();
        } else {
            listeners.add(listener);
        }
    }

    public synchronized void unsubscribe(ResponseListener listener) {
        listeners.remove(listener);
    }

    /** One numbered event. */
    private record Event(String type, byte[] json) {}

    /** A steer that came before any output stops the run once the first fragment is in; under the lock. */
    private void afterFragment() {
        if (steerAfterFirst) {
            steerAfterFirst = false;
            // A first fragment that starts a tool call is not a place to stop: the run goes on,
            // and its end answers the pending steers (the socket session sees the calls).
            if (!out.callsStarted()) {
                stopForSteer();
            }
        }
    }

    /** Time to first output, then between outputs; under the lock. */
    private void timeOutput() {
        long now = System.nanoTime();
        if (lastOutputNanos == 0) {
            metrics.firstOutput(now - startedNanos);
        } else {
            metrics.nextOutput(now - lastOutputNanos);
        }
        lastOutputNanos = now;
    }

    /** Takes the run's lock for every fragment, so snapshots see a consistent state. */
    private final class LockedSink implements dev.tether.inference.ModelSink {
        @Override
        public void sent() {
            synchronized (ResponseRun.this) {
                announce();
                persist();
            }
        }

        @Override
        public void text(String delta) {
            synchronized (ResponseRun.this) {
                if (steered) {
                    return; // past the boundary the steer stopped at
                }
                timeOutput();
                out.text(delta);
                afterFragment();
                persist();
            }
        }

        @Override
        public void toolCall(int index, String callId, String name) {
            synchronized (ResponseRun.this) {
                if (steered) {
                    return; // past the boundary the steer stopped at
                }
                timeOutput();
                out.toolCall(index, callId, name);
                afterFragment();
                // No persist: the call's item waits for its first arguments (or the end), and the
                // two are one append. A stored tool call would otherwise make its first arguments
                // wait for two flushes in a row; clients see the item as soon as it has arguments.
            }
        }

        @Override
        public void toolArguments(int index, String delta) {
            synchronized (ResponseRun.this) {
                if (steered) {
                    return; // past the boundary the steer stopped at
                }
                timeOutput();
                out.toolArguments(index, delta);
                afterFragment();
                persist();
            }
        }

        /**
         * The answer is in, on the backend's thread: the run ends here. Not after a compaction
         * (its usage is added on the generating thread) nor once a cancel or abort is under way
         * (the generating thread ends those).
         */
        @Override
        public void answered(ModelResult result) {
            synchronized (ResponseRun.this) {
                if (compactFirst == null && !cancelRequested && abortError == null) {
                    endAsAnswered(result.finish(), result.usage());
                }
            }
        }

        @Override
        public void logprobs(java.util.List<dev.tether.inference.TokenLogprob> tokens) {
            synchronized (ResponseRun.this) {
                if (!steered) {
                    out.logprobs(tokens);
                }
            }
        }
    }
}
