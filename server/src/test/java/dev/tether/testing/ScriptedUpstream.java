package dev.tether.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;

/**
 * An OpenAI-compatible Chat Completions server for tests, answering from a script: each request
 * takes the next queued {@link Reply}, or echoes the last user message when none is queued. It
 * records every request body, so tests can check what the gateway sent.
 *
 * <p>Thread-safe.
 */
public final class ScriptedUpstream implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final ConcurrentLinkedQueue<Reply> script = new ConcurrentLinkedQueue<>();
    private final List<JsonNode> requests = new CopyOnWriteArrayList<>();
    private final CountDownLatch closing = new CountDownLatch(1);

    /** One scripted answer. */
    public sealed interface Reply {}

    /** Streams {@code chunks} as text, {@code delayMillis} apart. */
    public record Text(long delayMillis, List<String> chunks, long promptTokens, long cachedTokens) implements Reply {}

    /** Streams one tool call, its arguments in {@code argChunks}. */
    public record ToolCall(String callId, String name, List<String> argChunks) implements Reply {}

    /**
     * A {@link ToolCall} held twice: nothing is sent until {@code start} is released, then the
     * call and its first argument chunk, then the rest once {@code rest} is released.
     */
    public record GatedCall(
            CountDownLatch start, CountDownLatch rest, String callId, String name, List<String> argChunks)
            implements Reply {}

    /** Answers with an HTTP error. */
    public record Status(int code, String message) implements Reply {}

    /** Sends the headers, then nothing until the upstream is closed. */
    public record Hang() implements Reply {}

    /** Streams {@code chunks} as text, then nothing more until the upstream is closed. */
    public record HangAfter(List<String> chunks) implements Reply {}

    /** Sends the headers, waits until {@code open} is released, then streams {@code chunks} as text. */
    public record Gate(CountDownLatch open, List<String> chunks) implements Reply {}

    private ScriptedUpstream(HttpServer server) {
        this.server = server;
    }

    public static ScriptedUpstream start() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ScriptedUpstream upstream = new ScriptedUpstream(server);
        server.createContext("/v1/chat/completions", upstream::handle);
        server.createContext("/v1/models", exchange -> {
            byte[] body = ("{\"object\":\"list\",\"data\":[{\"id\":\"scripted-1\",\"object\":\"model\","
                            + "\"created\":1700000000,\"owned_by\":\"scripted\"}]}")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.start();
        return upstream;
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    public ScriptedUpstream then(Reply reply) {
        script.add(reply);
        return this;
    }

    public static Text text(String... chunks) {
        return new Text(0, List.of(chunks), -1, 0);
    }

    /** The request bodies received so far, oldest first. */
    public List<JsonNode> requests() {
        return new ArrayList<>(requests);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            JsonNode body = JSON.readTree(ex.getRequestBody().readAllBytes());
            requests.add(body);
            Reply reply = script.poll();
            if (reply == null) {
                reply = new Text(0, List.of("echo: ", lastUserText(body)), -1, 0);
            }
            switch (reply) {
                case Status s -> {
                    byte[] err = ("{\"error\":{\"message\":\"" + s.message() + "\"}}").getBytes(StandardCharsets.UTF_8);
                    ex.getResponseHeaders().add("Content-Type", "application/json");
                    ex.sendResponseHeaders(s.code(), err.length);
                    ex.getResponseBody().write(err);
                }
                case Hang h -> {
                    startStream(ex);
                    closing.await();
                }
                case HangAfter h -> {
                    OutputStream out = startStream(ex);
                    for (String c : h.chunks()) {
                        chunk(out, JSON.createObjectNode().put("content", c), null, null);
                    }
                    closing.await();
                }
                case Gate g -> {
                    OutputStream out = startStream(ex);
                    g.open().await();
                    for (String c : g.chunks()) {
                        chunk(out, JSON.createObjectNode().put("content", c), null, null);
                    }
                    finish(
                            out,
                            "stop",
                            usage(body.toString().length() / 4, 0, g.chunks().size()));
                }
                case Text t -> {
                    OutputStream out = startStream(ex);
                    int k = 0;
                    for (String c : t.chunks()) {
                        ObjectNode delta = JSON.createObjectNode().put("content", c);
                        if (body.path("logprobs").asBoolean()) {
                            // As OpenAI does: one entry per chunk (a token here), alternatives as asked.
                            chunk(
                                    out,
                                    delta,
                                    logprobs(
                                            c,
                                            -0.25 * ++k,
                                            body.path("top_logprobs").asInt(0)));
                        } else {
                            chunk(out, delta, null, null);
                        }
                        if (t.delayMillis() > 0) {
                            Thread.sleep(t.delayMillis());
                        }
                    }
                    long prompt = t.promptTokens() >= 0
                            ? t.promptTokens()
                            : body.toString().length() / 4;
                    finish(
                            out,
                            "stop",
                            usage(prompt, t.cachedTokens(), t.chunks().size()));
                }
                case ToolCall c -> {
                    OutputStream out = startStream(ex);
                    callStart(out, c.callId(), c.name());
                    for (String a : c.argChunks()) callArguments(out, a);
                    finish(out, "tool_calls", usage(body.toString().length() / 4, 0, 1));
                }
                case GatedCall c -> {
                    OutputStream out = startStream(ex);
                    c.start().await();
                    callStart(out, c.callId(), c.name());
                    callArguments(out, c.argChunks().get(0));
                    c.rest().await();
                    for (String a : c.argChunks().subList(1, c.argChunks().size())) callArguments(out, a);
                    finish(out, "tool_calls", usage(body.toString().length() / 4, 0, 1));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the gateway went away (a cancel): nothing to do
        }
    }

    private static void callStart(OutputStream out, String callId, String name) throws IOException {
        ObjectNode first = JSON.createObjectNode();
        ObjectNode call = first.putArray("tool_calls").addObject().put("index", 0);
        call.put("id", callId).put("type", "function");
        call.putObject("function").put("name", name).put("arguments", "");
        chunk(out, first, null, null);
    }

    private static void callArguments(OutputStream out, String arguments) throws IOException {
        ObjectNode d = JSON.createObjectNode();
        d.putArray("tool_calls")
                .addObject()
                .put("index", 0)
                .putObject("function")
                .put("arguments", arguments);
        chunk(out, d, null, null);
    }

    private static OutputStream startStream(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().add("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        out.flush();
        return out;
    }

    private static ObjectNode logprobs(String token, double logprob, int top) {
        ObjectNode lp = JSON.createObjectNode();
        ObjectNode entry =
                lp.putArray("content").addObject().put("token", token).put("logprob", logprob);
        ArrayNode bytes = entry.putArray("bytes");
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
        ArrayNode alternatives = entry.putArray("top_logprobs");
        for (int i = 0; i < top; i++) {
            alternatives.addObject().put("token", i == 0 ? token : "alt" + i).put("logprob", logprob - i);
        }
        return lp;
    }

    private static void chunk(OutputStream out, ObjectNode delta, ObjectNode logprobs) throws IOException {
        ObjectNode c = JSON.createObjectNode().put("id", "chatcmpl-test").put("object", "chat.completion.chunk");
        ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
        choice.set("delta", delta);
        choice.set("logprobs", logprobs);
        choice.putNull("finish_reason");
        out.write(("data: " + c + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void chunk(OutputStream out, ObjectNode delta, String finish, ObjectNode usage) throws IOException {
        ObjectNode c = JSON.createObjectNode().put("id", "chatcmpl-test").put("object", "chat.completion.chunk");
        ArrayNode choices = c.putArray("choices");
        if (delta != null) {
            ObjectNode choice = choices.addObject().put("index", 0);
            choice.set("delta", delta);
            choice.put("finish_reason", finish);
        }
        if (usage != null) {
            c.set("usage", usage);
        }
        out.write(("data: " + c + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void finish(OutputStream out, String reason, ObjectNode usage) throws IOException {
        chunk(out, JSON.createObjectNode(), reason, null);
        chunk(out, null, null, usage);
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static ObjectNode usage(long prompt, long cached, long completion) {
        ObjectNode u = JSON.createObjectNode().put("prompt_tokens", prompt).put("completion_tokens", completion);
        u.putObject("prompt_tokens_details").put("cached_tokens", cached);
        return u.put("total_tokens", prompt + completion);
    }

    static String lastUserText(JsonNode body) {
        String text = "";
        for (JsonNode m : body.path("messages")) {
            if (m.path("role").asText().equals("user")) {
                text = m.path("content").asText();
            }
        }
        return text;
    }

    @Override
    public void close() {
        closing.countDown();
        server.stop(0);
    }
}
