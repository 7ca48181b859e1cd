package dev.tether.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.stream.StreamDocs;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Stored responses as durable streams. Response {@code R} is two JSON streams:
 * {@code responses/R} holds its events, message N being the event with {@code sequence_number}
 * N (so any Durable Streams reader can follow or resume it), and {@code responses/R/input}
 * holds one record: the request's parameters and input items. The events stream is closed with
 * the terminal event.
 *
 * <p>Stateless and thread-safe.
 */
final class ResponseLog {
    private final StreamDocs docs;

    ResponseLog(StreamDocs docs) {
        this.docs = docs;
    }

    /** Who owns responses stored before ownership was recorded: the open mode's principal. */
    private static final String ANONYMOUS = "anonymous";

    static String eventsPath(String id) {
        return "responses/" + id;
    }

    private static String inputPath(String id) {
        return "responses/" + id + "/input";
    }

    /** Creates both streams; durable when the stage completes. */
    CompletionStage<Void> begin(ResponseRecord r) {
        ObjectNode record = Json.object();
        record.put("created_at", r.createdAt());
        record.put("root", r.rootId());
        record.put("owner", r.owner());
        record.set("params", r.params().source());
        ArrayNode input = record.putArray("input");
        r.input().forEach(input::add);
        CompletionStage<Void> inputs = docs.create(inputPath(r.id()), List.of(Json.bytes(record)), true);
        CompletionStage<Void> events = docs.create(eventsPath(r.id()), List.of(), false);
        return inputs.thenCombine(events, (a, b) -> null);
    }

    /** Whether the response's streams still exist (they expire with {@code --response-ttl}). */
    boolean exists(String id) {
        return docs.exists(eventsPath(id)) && docs.exists(inputPath(id));
    }

    /** Renews both streams' TTL: a response used is a response kept. */
    void touch(String id) {
        docs.touch(eventsPath(id));
        docs.touch(inputPath(id));
    }

    /** A persister for one run: at most one append in flight, the rest batched behind it. */
    ResponseRun.Persister persister(ResponseRun run) {
        return new BatchingPersister(docs, eventsPath(run.id()), run);
    }

    /**
     * A stored response without its chain, or null if unknown.
     *
     * @param previousId the response it continued, to be resolved by the caller
     * @param finished   whether the events stream holds a terminal event
     */
    record Loaded(ResponseRecord record, String previousId, boolean finished, int eventCount) {}

    CompletionStage<Loaded> load(String id) {
        return docs.readAll(inputPath(id)).thenCombine(docs.readAll(eventsPath(id)), (in, ev) -> {
            if (in == null || ev == null || in.messages().isEmpty()) {
                return null;
            }
            return parse(id, Json.parseStored(in.messages().get(0)), ev.messages());
        });
    }

    private static Loaded parse(String id, JsonNode record, List<byte[]> events) {
        ResponseParams params = ParamsParser.parse(record.get("params"));
        List<ObjectNode> input = new ArrayList<>();
        record.path("input").forEach(i -> input.add((ObjectNode) i));
        JsonNode last = events.isEmpty() ? null : Json.parseStored(events.get(events.size() - 1));
        boolean finished = last != null
                && last.path("response").path("status").isTextual()
                && ResponseStatus.parse(last.get("response").get("status").asText())
                        .terminal();
        List<ObjectNode> output = new ArrayList<>();
        ResponseStatus status = ResponseStatus.IN_PROGRESS;
        ObjectNode usage = null;
        ObjectNode error = null;
        String incomplete = null;
        Long completedAt = null;
        if (finished) {
            JsonNode r = last.get("response");
            r.path("output").forEach(o -> output.add((ObjectNode) o));
            status = ResponseStatus.parse(r.get("status").asText());
            usage = r.path("usage").isObject() ? (ObjectNode) r.get("usage") : null;
            error = r.path("error").isObject() ? (ObjectNode) r.get("error") : null;
            incomplete = r.path("incomplete_details").path("reason").asText(null);
            completedAt =
                    r.path("completed_at").isNumber() ? r.get("completed_at").asLong() : null;
        } else {
            output.addAll(PartialOutput.replay(events));
        }
        ResponseRecord r = new ResponseRecord(
                id,
                record.path("created_at").asLong(),
                params,
                record.path("root").asText(id),
                Chain.EMPTY,
                input,
                output,
                status,
                usage,
                error,
                incomplete,
                completedAt,
                record.path("owner").asText(ANONYMOUS));
        return new Loaded(r, params.previousResponseId(), finished, events.size());
    }

    /**
     * Ends a response whose generation died with the process: appends {@code response.failed}
     * so readers see an end instead of waiting forever.
     */
    CompletionStage<ResponseRecord> markInterrupted(Loaded loaded) {
        ResponseRecord r = loaded.record();
        ResponseRecord failed = new ResponseRecord(
                r.id(),
                r.createdAt(),
                r.params(),
                r.rootId(),
                r.before(),
                r.input(),
                r.output(),
                ResponseStatus.FAILED,
                null,
                RunErrors.error(RunErrors.SERVER_ERROR, "the server stopped while this response was being generated"),
                null,
                null,
                r.owner());
        ObjectNode event = OutputBuilder.event("response.failed");
        event.set("response", failed.toJson());
        event.put("sequence_number", loaded.eventCount());
        return docs.append(eventsPath(r.id()), List.of(Json.bytes(event)), true).thenApply(v -> failed);
    }

    /** Every stored event of the response, in sequence order (empty if unknown). */
    CompletionStage<List<byte[]>> events(String id) {
        return docs.readAll(eventsPath(id)).thenApply(c -> c == null ? List.<byte[]>of() : c.messages());
    }

    CompletionStage<Boolean> delete(String id) {
        return docs.delete(eventsPath(id)).thenCombine(docs.delete(inputPath(id)), (a, b) -> a || b);
    }
}
