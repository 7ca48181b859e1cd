package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.auth.Principal;
import dev.tether.errors.Condition;
import dev.tether.errors.Refusal;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One Responses WebSocket connection, independent of the transport: {@code response.create}
 * frames in, event frames out. Requests run in FIFO lanes chosen by {@code stream_id} (the
 * default lane when absent), at most {@link #MAX_IN_FLIGHT} at once across lanes, further ones
 * queued. Each lane's latest response stays in a connection-local cache, so a continuation by
 * {@code previous_response_id} works with {@code store:false}, and nothing about it outlives the
 * connection or its TTL. A failed continuation evicts the id it referenced (WebSocket mode guide).
 * A {@code response.steer} stops the response running on a lane and puts its successor at the head
 * of that lane ({@link Steer}).
 *
 * <p>Thread-safe: frames arrive on the connection's event loop, completions on other threads;
 * all state is guarded by the instance lock. A run's lock may be held when this one is taken (a
 * run's end, a steer's decision), so a steer calls into its run only after releasing it.
 */
public final class SocketSession implements ResponseService.LocalChains {
    static final int MAX_IN_FLIGHT = 16;
    static final int MAX_LANES = 32;
    private static final int MAX_QUEUED = 256;
    /** Steers one response may collect before it ends (each answered {@code too_many_pending_steers} after). */
    static final int MAX_STEERS = 16;

    static final Pattern STREAM_ID = Pattern.compile("[A-Za-z0-9_.-]{1,256}");

    private final ResponseService service;
    private final Frames out;
    private final InstantSource clock;
    private final java.util.concurrent.Executor loop;
    private final long ttlMillis;
    private final Map<String, Lane> lanes = new HashMap<>();
    private final Principal principal;
    private int inFlight;
    private int queued;
    private boolean closed;

    /** Where frames go; implementations may be called from any thread. */
    public interface Frames {
        /** An event frame, as JSON. */
        void send(byte[] json);

        /** An {@code error} frame for {@code failure}, tagged with {@code streamId} when not null. */
        void error(String streamId, Throwable failure);

        /**
         * A {@code response.steer.failed} event for the steer of {@code responseId} (null when the
         * frame named none), tagged with {@code streamId} when not null.
         */
        void steerFailed(String streamId, String responseId, Throwable failure);
    }

    /**
     * @param loop runs the next request of a lane: completions arrive on engine threads, which
     *             must not do request work
     */
    public SocketSession(
            ResponseService service,
            Frames out,
            InstantSource clock,
            Duration cacheTtl,
            java.util.concurrent.Executor loop,
            Principal principal) {
        this.principal = principal;
        this.service = service;
        this.out = out;
        this.clock = clock;
        this.loop = loop;
        this.ttlMillis = cacheTtl.toMillis();
    }

    /** A text frame from the client. */
    public void onText(String text) {
        JsonNode frame;
        try {
            frame = Json.MAPPER.readTree(text);
        } catch (IOException e) {
            String why = e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                    ? Json.describe(j)
                    : String.valueOf(e.getMessage());
            out.error(null, Refusal.invalid(null, "The frame is not valid JSON: " + why));
            return;
        }
        String type = frame.path("type").asText("");
        switch (type) {
            case "response.create" -> create((ObjectNode) frame);
            case "response.steer" -> steer(frame);
            case "response.processed" -> {} // Codex acknowledges events this way; nothing to do
            default ->
                out.error(
                        null,
                        Refusal.invalid(
                                "type",
                                "unknown_event_type",
                                "Unsupported client event type '" + type
                                        + "'; this endpoint accepts response.create and response.steer."));
        }
    }

    private synchronized void create(ObjectNode frame) {
        if (closed) {
            return;
        }
        String streamId = null;
        if (frame.has("stream_id")) {
            JsonNode s = frame.get("stream_id");
            if (!s.isTextual() || !STREAM_ID.matcher(s.asText()).matches()) {
                out.error(
                        null,
                        Refusal.invalid(
                                "stream_id",
                                "invalid_stream_id",
                                "Invalid 'stream_id': expected 1-256 characters of [A-Za-z0-9_.-]."));
                return;
            }
            streamId = s.asText();
        }
        String key = streamId == null ? "" : streamId;
        Lane lane = lanes.get(key);
        if (lane == null) {
            if (streamId != null
                    && lanes.keySet().stream().filter(k -> !k.isEmpty()).count() >= MAX_LANES) {
                out.error(
                        streamId,
                        Refusal.invalid(
                                "stream_id",
                                "websocket_stream_limit_reached",
                                "This connection reached the maximum number of distinct stream IDs (" + MAX_LANES
                                        + "). Reuse an existing stream_id or open a new WebSocket connection."));
                return;
            }
            lane = new Lane(streamId);
            lanes.put(key, lane);
        }
        if (frame.path("background").asBoolean(false)) {
            out.error(
                    streamId,
                    Refusal.invalid("background", "Background responses are not supported over WebSocket; use HTTP."));
            return;
        }
        if (queued >= MAX_QUEUED) {
            out.error(
                    streamId,
                    new Refusal(
                            Condition.RATE_LIMITED,
                            "too_many_queued",
                            null,
                            "More than " + MAX_QUEUED + " response.create requests are waiting on this connection."));
            return;
        }
        frame.remove("stream_id");
        frame.put("stream", true);
        lane.waiting.add(frame);
        queued++;
        pump();
    }

    /**
     * The connection is gone: requests still queued never start (a disconnect is not a cancel, so
     * running responses finish and stay retrievable when stored).
     */
    public synchronized void close() {
        closed = true;
        for (Lane lane : lanes.values()) {
            queued -= lane.waiting.size();
            lane.waiting.clear();
        }
    }

    /** Requests waiting to start on this connection (for tests and metrics). */
    public synchronized int queued() {
        return queued;
    }

    /** Starts the head of every idle lane while the in-flight cap allows. */
    private void pump() {
        if (closed) {
            return;
        }
        for (Lane lane : lanes.values()) {
            if (inFlight >= MAX_IN_FLIGHT) {
                return;
            }
            if (!lane.busy && !lane.waiting.isEmpty()) {
                ObjectNode frame = lane.waiting.poll();
                queued--;
                lane.busy = true;
                inFlight++;
                loop.execute(() -> run(lane, frame));
            }
        }
    }

    private void run(Lane lane, ObjectNode frame) {
        String previous = frame.path("previous_response_id").asText(null);
        try {
            ResponseParams params = ParamsParser.parse(frame);
            ResponseService.authorize(params, principal);
            service.create(params, this, principal.id()).whenComplete((run, failure) -> {
                if (failure != null) {
                    finished(lane, previous, null, failure);
                } else {
                    started(lane, run, frame);
                    run.subscribe(-1, new LaneListener(lane, previous, run));
                }
            });
        } catch (RuntimeException e) {
            finished(lane, previous, null, e);
        }
    }

    private synchronized void finished(Lane lane, String previous, ResponseRecord record, Throwable failure) {
        if (failure != null) {
            out.error(lane.streamId, failure);
            evict(previous);
        } else if (record.status() == ResponseStatus.COMPLETED || record.status() == ResponseStatus.INCOMPLETE) {
            lane.head = record;
            lane.headExpires = clock.millis() + ttlMillis;
        } else {
            evict(previous);
        }
        Active active = lane.active;
        lane.active = null;
        if (active != null && !active.steers.isEmpty()) {
            followSteers(lane, active, record);
        }
        lane.busy = false;
        inFlight--;
        pump();
    }

    /** Before the run's first event reaches the client, so a steer naming it finds it. */
    private synchronized void started(Lane lane, ResponseRun run, ObjectNode frame) {
        lane.active = new Active(run, frame);
    }

    /**
     * A {@code response.steer}: answered {@code accepted} when the target is generating, {@code
     * pending} when it has produced nothing yet (applied after its first token), {@code failed}
     * otherwise. Runs on the connection's event loop; the target's own lock orders the answer with
     * its end.
     */
    private void steer(JsonNode frame) {
        Steer steer;
        try {
            steer = Steer.parse(frame);
        } catch (Refusal r) {
            out.steerFailed(
                    Steer.laneOf(frame), frame.path("previous_response_id").asText(null), r);
            return;
        }
        Active active;
        synchronized (this) {
            if (closed) {
                return;
            }
            Lane lane = lanes.get(steer.streamId() == null ? "" : steer.streamId());
            active = lane == null ? null : lane.active;
            Refusal refused = refusal(steer, active);
            if (refused != null) {
                out.steerFailed(steer.streamId(), steer.target(), refused);
                return;
            }
        }
        active.run.steer(outcome -> decided(steer, active, outcome));
    }

    /** Why {@code steer} cannot apply to the lane's running response {@code active}, or null. */
    private Refusal refusal(Steer steer, Active active) {
        if (active == null || !active.run.id().equals(steer.target())) {
            return steer.notRunning();
        }
        Refusal unsupported = steer.unsupported(active.run.params());
        if (unsupported != null) {
            return unsupported;
        }
        if (active.steers.size() >= MAX_STEERS) {
            return steer.tooMany(MAX_STEERS);
        }
        try {
            principal.require(ResponseService.RESOURCE, dev.tether.auth.Operation.CREATE);
            principal.require(ResponseService.RESOURCE, dev.tether.auth.Operation.READ);
        } catch (Refusal r) {
            return r;
        }
        return null;
    }

    /** Under the target's lock: the steer is recorded before the target can end. */
    private synchronized void decided(Steer steer, Active active, ResponseRun.Steering outcome) {
        switch (outcome) {
            case STOPPING -> {
                active.steers.add(steer);
                out.send(steer.answer("response.steer.accepted"));
            }
            case PENDING -> {
                active.steers.add(steer);
                out.send(steer.answer("response.steer.pending"));
            }
            case ENDED -> out.steerFailed(steer.streamId(), steer.target(), steer.notRunning());
            case CALLING -> out.steerFailed(steer.streamId(), steer.target(), steer.callingTools());
        }
    }

    /**
     * The steered response has ended: its successor goes to the head of the lane, or, when the
     * response failed, was cancelled or called tools (nothing to continue from), each steer is
     * answered {@code failed}.
     */
    private void followSteers(Lane lane, Active active, ResponseRecord record) {
        if (record != null && Steer.callsTools(record)) {
            // Pending steers of a response that then called tools: its calls need their outputs
            // first, so no successor could be built on it.
            for (Steer steer : active.steers) {
                out.steerFailed(steer.streamId(), steer.target(), steer.callingTools());
            }
            return;
        }
        if (record != null
                && (record.status() == ResponseStatus.COMPLETED || record.status() == ResponseStatus.INCOMPLETE)) {
            if (!closed) {
                lane.waiting.addFirst(Steer.successor(active.frame, record.id(), active.steers));
                queued++;
            }
            return;
        }
        for (Steer steer : active.steers) {
            out.steerFailed(steer.streamId(), steer.target(), steer.notApplied(record));
        }
    }

    private void evict(String id) {
        if (id == null) {
            return;
        }
        for (Lane l : lanes.values()) {
            if (l.head != null && l.head.id().equals(id)) {
                l.head = null;
            }
        }
    }

    @Override
    public synchronized ResponseRecord find(String id) {
        long now = clock.millis();
        for (Lane l : lanes.values()) {
            if (l.head != null && l.head.id().equals(id)) {
                return now <= l.headExpires ? l.head : null;
            }
        }
        return null;
    }

    /** Sends the connection-limit error; the transport closes the socket afterwards. */
    public void expire(Duration age) {
        out.error(
                null,
                Refusal.invalid(
                        null,
                        "websocket_connection_limit_reached",
                        "Responses websocket connection limit reached (" + age.toMinutes()
                                + " minutes). Create a new websocket connection to continue."));
    }

    /** A FIFO of requests sharing a {@code stream_id}, and the latest response they produced. */
    private static final class Lane {
        final String streamId;
        final ArrayDeque<ObjectNode> waiting = new ArrayDeque<>();
        boolean busy;
        /** The response running on this lane, once it has started. */
        Active active;

        ResponseRecord head;
        long headExpires;

        Lane(String streamId) {
            this.streamId = streamId;
        }
    }

    /** A lane's running response, the request that started it, and the steers it has taken. */
    private static final class Active {
        final ResponseRun run;
        final ObjectNode frame;
        final java.util.List<Steer> steers = new java.util.ArrayList<>();

        Active(ResponseRun run, ObjectNode frame) {
            this.run = run;
            this.frame = frame;
        }
    }

    /** Forwards one response's events as frames (tagged with the lane's stream_id), then frees the lane. */
    private final class LaneListener implements ResponseListener {
        private final Lane lane;
        private final String previous;
        private final ResponseRun run;
        private final byte[] tag;

        LaneListener(Lane lane, String previous, ResponseRun run) {
            this.lane = lane;
            this.previous = previous;
            this.run = run;
            this.tag = lane.streamId == null
                    ? null
                    : ("{\"stream_id\":\"" + lane.streamId + "\",").getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public void onEvent(int sequence, String type, byte[] json) {
            if (tag == null) {
                out.send(json);
                return;
            }
            byte[] tagged = new byte[tag.length + json.length - 1];
            System.arraycopy(tag, 0, tagged, 0, tag.length);
            System.arraycopy(json, 1, tagged, tag.length, json.length - 1);
            out.send(tagged);
        }

        @Override
        public void onEnd() {
            finished(lane, previous, run.snapshot(), null);
        }
    }
}
