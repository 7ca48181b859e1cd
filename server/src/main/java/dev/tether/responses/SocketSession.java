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
 *
 * <p>Thread-safe: frames arrive on the connection's event loop, completions on other threads;
 * all state is guarded by the instance lock.
 */
public final class SocketSession implements ResponseService.LocalChains {
    static final int MAX_IN_FLIGHT = 16;
    static final int MAX_LANES = 32;
    private static final int MAX_QUEUED = 256;
    private static final Pattern STREAM_ID = Pattern.compile("[A-Za-z0-9_.-]{1,256}");

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
            case "response.processed" -> {} // Codex acknowledges events this way; nothing to do
            default ->
                out.error(
                        null,
                        Refusal.invalid(
                                "type",
                                "unknown_event_type",
                                "Unsupported client event type '" + type
                                        + "'; this endpoint accepts response.create."));
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
        lane.busy = false;
        inFlight--;
        pump();
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
        ResponseRecord head;
        long headExpires;

        Lane(String streamId) {
            this.streamId = streamId;
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
