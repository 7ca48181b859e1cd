package dev.tether.inference.upstream;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import dev.tether.inference.TokenLogprob;
import java.io.CharConversionException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * Reads a Chat Completions stream ({@code data: chunk} lines, then {@code data: [DONE]}) and
 * forwards text and tool-call fragments to a {@link ModelSink}. Also accepts a non-streamed
 * {@code chat.completion} body from upstreams that ignore {@code stream:true}.
 *
 * <p>A stream's lines are fed in as they arrive ({@link #line}, {@link #ended}), on the
 * transport's thread, so a fragment reaches the sink without a hand-off to the generating thread;
 * {@link #outcome} completes at the answer's end (after the sink has heard of it, {@link
 * ModelSink#answered}) or its first failure. Thread-safe: every call takes the reader's lock, so
 * once {@link #stop} has returned no sink call is running or will start, and what the reader did
 * happens-before the caller's next step.
 */
final class ChunkReader {
    private final ModelSink sink;
    private final String upstream;
    /** Upstream tool-call index → ours (order of first appearance). */
    private final Map<Integer, PendingCall> calls = new HashMap<>();

    private final CompletableFuture<ModelResult> outcome = new CompletableFuture<>();

    private ModelResult.Finish finish;
    private ModelResult.Usage usage = ModelResult.Usage.UNKNOWN;
    private boolean emitted;
    private boolean stopped;

    ChunkReader(ModelSink sink, String upstream) {
        this.sink = sink;
        this.upstream = upstream;
    }

    /** Whether anything reached the sink (after which a retry would duplicate output). */
    synchronized boolean emitted() {
        return emitted;
    }

    /** The request went out: tells the sink, so its own work overlaps the upstream's. */
    synchronized void sent() {
        if (!stopped) {
            sink.sent();
        }
    }

    /**
     * How a streamed answer ends: its result at {@code data: [DONE]} (or a clean end after a
     * finish reason), a {@link ModelException} for an error chunk or an end before the answer's,
     * an {@link IOException} when the connection broke.
     */
    CompletableFuture<ModelResult> outcome() {
        return outcome;
    }

    /**
     * One line of the stream, its UTF-8 bytes without the line end; nothing once the outcome is
     * known or the reader was stopped.
     */
    synchronized void line(byte[] line) {
        if (stopped || !startsWith(line, DATA)) {
            return; // comments, event: lines, blank separators
        }
        int from = DATA.length;
        int to = line.length;
        while (from < to && (line[from] & 0xff) <= ' ') {
            from++;
        }
        while (to > from && (line[to - 1] & 0xff) <= ' ') {
            to--;
        }
        try {
            if (Arrays.equals(line, from, to, DONE, 0, DONE.length)) {
                settle(result(), null);
            } else if (to > from) {
                chunk(read(line, from, to));
            }
        } catch (IOException | ModelException | RuntimeException e) {
            settle(null, e);
        }
    }

    /**
     * The chunk in {@code line[from, to)}. Bytes that are not UTF-8 fail Jackson's byte parser, as
     * malformed JSON does; such a line is read again as text, its bad bytes replaced (U+FFFD), as
     * lines were read before the byte parser (malformed JSON then fails again, and that failure is
     * the one reported).
     */
    private static Chunk read(byte[] line, int from, int to) throws IOException {
        try (JsonParser parser = ChatCodec.JSON.createParser(line, from, to - from)) {
            return Chunk.read(parser);
        } catch (CharConversionException | JsonParseException e) {
            try (JsonParser parser =
                    ChatCodec.JSON.createParser(new String(line, from, to - from, StandardCharsets.UTF_8))) {
                return Chunk.read(parser);
            }
        }
    }

    private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

    private static boolean startsWith(byte[] line, byte[] prefix) {
        return line.length >= prefix.length && Arrays.equals(line, 0, prefix.length, prefix, 0, prefix.length);
    }

    /** The stream's end: {@code failure} null for a clean one, else the broken connection. */
    synchronized void ended(IOException failure) {
        if (failure != null) {
            settle(null, failure);
        } else if (finish == null) {
            settle(
                    null,
                    new ModelException(
                            ModelException.Kind.UNAVAILABLE,
                            "upstream " + upstream + " closed the stream before the end of the answer"));
        } else {
            settle(result(), null);
        }
    }

    /** No sink call after this returns (the caller gave up, or the outcome is in). */
    synchronized void stop() {
        stopped = true;
    }

    private void settle(ModelResult result, Exception failure) {
        if (stopped) {
            return;
        }
        stopped = true;
        if (failure != null) {
            outcome.completeExceptionally(failure);
            return;
        }
        try {
            sink.answered(result); // here, on the transport's thread: the caller's wake-up is not waited for
        } finally {
            outcome.complete(result);
        }
    }

    synchronized ModelResult readWhole(JsonNode completion) throws ModelException {
        chunk(Chunk.of(completion));
        return result();
    }

    private void chunk(Chunk chunk) throws ModelException {
        if (chunk.error() != null) {
            throw new ModelException(
                    ModelException.Kind.UNAVAILABLE,
                    "upstream " + upstream + " failed mid-answer: "
                            + chunk.error().path("message").asText(chunk.error().toString()));
        }
        for (Chunk.Choice choice : chunk.choices()) {
            if (choice.logprobs() != null) {
                logprobs(choice.logprobs());
            }
            if (choice.content() != null) {
                text(choice.content());
            }
            for (Chunk.CallDelta call : choice.calls()) {
                toolDelta(call.index() != null ? call.index() : calls.size(), call);
            }
            finish(choice.finishReason());
        }
        if (chunk.usage() != null) {
            usage(chunk.usage());
        }
    }

    /** Chat Completions {@code logprobs.content}: each entry precedes the text it scores. */
    private void logprobs(JsonNode logprobs) {
        JsonNode content = logprobs.path("content");
        if (!content.isArray() || content.isEmpty()) return;
        List<TokenLogprob> tokens = new ArrayList<>();
        for (JsonNode e : content) {
            List<TokenLogprob> top = new ArrayList<>();
            for (JsonNode alt : e.path("top_logprobs")) top.add(logprob(alt, List.of()));
            tokens.add(logprob(e, top));
        }
        sink.logprobs(tokens);
    }

    private static TokenLogprob logprob(JsonNode e, List<TokenLogprob> top) {
        String token = e.path("token").asText("");
        byte[] bytes;
        if (e.path("bytes").isArray()) {
            bytes = new byte[e.get("bytes").size()];
            for (int i = 0; i < bytes.length; i++)
                bytes[i] = (byte) e.get("bytes").get(i).asInt();
        } else {
            bytes = token.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
        return new TokenLogprob(token, e.path("logprob").asDouble(), bytes, top);
    }

    private void text(String delta) {
        if (!delta.isEmpty()) {
            emitted = true;
            sink.text(delta);
        }
    }

    private void toolDelta(int upstreamIndex, Chunk.CallDelta call) {
        PendingCall pending = calls.get(upstreamIndex);
        if (pending == null) {
            pending = new PendingCall(calls.size());
            calls.put(upstreamIndex, pending);
        }
        if (pending.id == null && call.id() != null) {
            pending.id = call.id();
        }
        if (!pending.started && call.name() != null) {
            pending.started = true;
            emitted = true;
            String id = pending.id != null
                    ? pending.id
                    : "call_" + UUID.randomUUID().toString().replace("-", "");
            sink.toolCall(pending.index, id, call.name());
            if (!pending.early.isEmpty()) {
                sink.toolArguments(pending.index, pending.early.toString());
            }
        }
        String args = call.arguments();
        if (args != null && !args.isEmpty()) {
            if (pending.started) {
                sink.toolArguments(pending.index, args);
            } else {
                pending.early.append(args);
            }
        }
    }

    private void finish(String reason) {
        if (reason == null) {
            return;
        }
        finish = switch (reason) {
            case "tool_calls", "function_call" -> ModelResult.Finish.TOOL_CALLS;
            case "length" -> ModelResult.Finish.LENGTH;
            case "content_filter" -> ModelResult.Finish.CONTENT_FILTER;
            default -> ModelResult.Finish.STOP;
        };
    }

    private void usage(JsonNode u) {
        if (u.isObject()) {
            usage = new ModelResult.Usage(
                    Math.max(0, u.path("prompt_tokens").asLong()),
                    Math.max(
                            0,
                            u.path("prompt_tokens_details")
                                    .path("cached_tokens")
                                    .asLong()),
                    Math.max(0, u.path("completion_tokens").asLong()));
        }
    }

    private ModelResult result() {
        ModelResult.Finish f = finish != null ? finish : ModelResult.Finish.STOP;
        if (f == ModelResult.Finish.STOP && !calls.isEmpty()) {
            f = ModelResult.Finish.TOOL_CALLS; // some servers end tool calls with "stop"
        }
        return new ModelResult(f, usage);
    }

    /** A tool call whose name may not have arrived yet. */
    private static final class PendingCall {
        final int index;
        final StringBuilder early = new StringBuilder();
        String id;
        boolean started;

        PendingCall(int index) {
            this.index = index;
        }
    }
}
