package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ModelSink;
import dev.tether.inference.TokenLogprob;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Turns a backend's fragments into Responses output items and the streaming events around them,
 * in the order the SDKs require (item added → content part added → deltas → done events):
 * openai-node's stream helper fails with "missing output at index N" otherwise.
 *
 * <p>Not thread-safe: {@link ResponseRun} calls it under its lock.
 */
final class OutputBuilder implements ModelSink {
    private final Consumer<ObjectNode> emit;
    private final List<ObjectNode> items = new ArrayList<>();
    private final Map<Integer, OpenCall> calls = new HashMap<>();
    private OpenText text;
    private ArrayNode pendingLogprobs = Json.MAPPER.createArrayNode();

    OutputBuilder(Consumer<ObjectNode> emit) {
        this.emit = emit;
    }

    @Override
    public void text(String delta) {
        if (text == null) {
            String id = Ids.message();
            ObjectNode item = Json.object().put("id", id).put("type", "message").put("status", "in_progress");
            item.put("role", "assistant").putArray("content");
            text = new OpenText(id, items.size());
            items.add(item);
            emit.accept(event("response.output_item.added")
                    .put("output_index", text.index)
                    .set("item", item));
            ObjectNode added = indexed("response.content_part.added", text.id, text.index);
            added.set("part", Items.textPart("output_text", ""));
            emit.accept(added);
        }
        text.text.append(delta);
        ObjectNode e =
                indexed("response.output_text.delta", text.id, text.index).put("delta", delta);
        e.set("logprobs", pendingLogprobs);
        text.logprobs.addAll(pendingLogprobs);
        pendingLogprobs = Json.MAPPER.createArrayNode();
        emit.accept(e);
    }

    /** They go out with the next text delta (an empty list on deltas without any). */
    @Override
    public void logprobs(List<TokenLogprob> tokens) {
        for (TokenLogprob t : tokens) {
            ObjectNode entry = logprob(t);
            ArrayNode top = entry.putArray("top_logprobs");
            t.top().forEach(alt -> top.add(logprob(alt)));
            pendingLogprobs.add(entry);
        }
    }

    private static ObjectNode logprob(TokenLogprob t) {
        ObjectNode o = Json.object().put("token", t.token()).put("logprob", t.logprob());
        ArrayNode bytes = o.putArray("bytes");
        for (byte b : t.bytes()) bytes.add(b & 0xff);
        return o;
    }

    @Override
    public void toolCall(int index, String callId, String name) {
        closeText("completed");
        pendingLogprobs = Json.MAPPER.createArrayNode(); // a call's tokens are not output text
        String id = Ids.functionCall();
        ObjectNode item =
                Json.object().put("id", id).put("type", "function_call").put("status", "in_progress");
        item.put("arguments", "").put("call_id", callId).put("name", name);
        OpenCall call = new OpenCall(id, items.size(), callId, name);
        calls.put(index, call);
        items.add(item);
        emit.accept(event("response.output_item.added")
                .put("output_index", call.index)
                .set("item", item));
    }

    @Override
    public void toolArguments(int index, String delta) {
        OpenCall call = calls.get(index);
        if (call == null) {
            throw new IllegalStateException("arguments for tool call " + index + " before it started");
        }
        call.arguments.append(delta);
        emit.accept(event("response.function_call_arguments.delta")
                .put("item_id", call.id)
                .put("output_index", call.index)
                .put("delta", delta));
    }

    /** A finished item (a compaction), announced and done at once. */
    void item(ObjectNode item) {
        closeText("completed");
        int index = items.size();
        items.add(item);
        emit.accept(
                event("response.output_item.added").put("output_index", index).set("item", item));
        emit.accept(
                event("response.output_item.done").put("output_index", index).set("item", item));
    }

    /** Closes open items with {@code status} and returns every output item. */
    List<ObjectNode> finish(String status) {
        closeText(status);
        for (OpenCall call : calls.values().stream()
                .sorted(java.util.Comparator.comparingInt(c -> c.index))
                .toList()) {
            String args = call.arguments.toString();
            emit.accept(event("response.function_call_arguments.done")
                    .put("item_id", call.id)
                    .put("output_index", call.index)
                    .put("name", call.name)
                    .put("arguments", args));
            ObjectNode item = Json.object()
                    .put("id", call.id)
                    .put("type", "function_call")
                    .put("status", status);
            item.put("arguments", args).put("call_id", call.callId).put("name", call.name);
            items.set(call.index, item);
            emit.accept(event("response.output_item.done")
                    .put("output_index", call.index)
                    .set("item", item));
        }
        calls.clear();
        return List.copyOf(items);
    }

    /** Whether a tool call has started (whose output the client owes before any next turn). */
    boolean callsStarted() {
        return !calls.isEmpty(); // a started call stays there until finish() ends the run
    }

    /** The items so far (for a snapshot of an in-flight response). */
    List<ObjectNode> itemsSoFar() {
        List<ObjectNode> copy = new ArrayList<>(items);
        if (text != null) {
            copy.set(text.index, message(text, "in_progress"));
        }
        return copy;
    }

    private void closeText(String status) {
        if (text == null) {
            return;
        }
        String full = text.text.toString();
        ObjectNode done =
                indexed("response.output_text.done", text.id, text.index).put("text", full);
        done.set("logprobs", text.logprobs.deepCopy());
        emit.accept(done);
        ObjectNode partDone = indexed("response.content_part.done", text.id, text.index);
        partDone.set("part", part(text));
        emit.accept(partDone);
        ObjectNode item = message(text, status);
        items.set(text.index, item);
        emit.accept(event("response.output_item.done")
                .put("output_index", text.index)
                .set("item", item));
        text = null;
    }

    private static ObjectNode message(OpenText t, String status) {
        ObjectNode item = Json.object().put("id", t.id).put("type", "message").put("status", status);
        item.put("role", "assistant").putArray("content").add(part(t));
        return item;
    }

    private static ObjectNode part(OpenText t) {
        ObjectNode part = Items.textPart("output_text", t.text.toString());
        part.set("logprobs", t.logprobs.deepCopy());
        return part;
    }

    private static ObjectNode indexed(String type, String itemId, int outputIndex) {
        return event(type)
                .put("item_id", itemId)
                .put("output_index", outputIndex)
                .put("content_index", 0);
    }

    static ObjectNode event(String type) {
        return Json.object().put("type", type);
    }

    /** The message being streamed. */
    private static final class OpenText {
        final String id;
        final int index;
        final StringBuilder text = new StringBuilder();
        final ArrayNode logprobs = Json.MAPPER.createArrayNode();

        OpenText(String id, int index) {
            this.id = id;
            this.index = index;
        }
    }

    /** A function call being streamed. */
    private static final class OpenCall {
        final String id;
        final int index;
        final String callId;
        final String name;
        final StringBuilder arguments = new StringBuilder();

        OpenCall(String id, int index, String callId, String name) {
            this.id = id;
            this.index = index;
            this.callId = callId;
            this.name = name;
        }
    }
}
