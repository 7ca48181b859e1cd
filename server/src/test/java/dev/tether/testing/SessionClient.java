package dev.tether.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * A test client for {@code /v1/sessions}: JSON calls as one principal (a bearer token, or none in
 * open mode), whole-log reads, and live readers over SSE and the WebSocket that can be killed
 * (socket destroyed) mid-stream. Entries keep the offset just after them, so tests can resume.
 */
public final class SessionClient {
    public static final ObjectMapper JSON = new ObjectMapper();

    private final int port;
    private final String token;
    private final java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    public SessionClient(TestServer server, String token) {
        this(server.port(), token);
    }

    /** A client of the server on {@code port} (a child process, say). */
    public SessionClient(int port, String token) {
        this.port = port;
        this.token = token;
    }

    /** An answer: status and parsed body (null when empty or not JSON). */
    public record Reply(int status, JsonNode body, String raw, HttpResponse<String> response) {
        public String text(String field) {
            return body.path(field).asText();
        }
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    public Reply post(String path, String json) throws IOException, InterruptedException {
        return reply(send(request(path)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build()));
    }

    public Reply get(String path) throws IOException, InterruptedException {
        return reply(send(request(path).GET().build()));
    }

    /** A bodiless request with one extra header. */
    public Reply send(String method, String path, String header, String value)
            throws IOException, InterruptedException {
        return reply(send(request(path)
                .header(header, value)
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build()));
    }

    public Reply delete(String path) throws IOException, InterruptedException {
        return reply(send(request(path).DELETE().build()));
    }

    private HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
        return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static Reply reply(HttpResponse<String> r) {
        JsonNode body = null;
        try {
            body = r.body().isEmpty() ? null : JSON.readTree(r.body());
        } catch (IOException e) {
            // not JSON: the raw text is kept
        }
        return new Reply(r.statusCode(), body, r.body(), r);
    }

    /** Creates a session; fails the test unless 201. */
    public String create(String json) throws IOException, InterruptedException {
        Reply r = post("/v1/sessions", json);
        if (r.status() != 201) {
            throw new AssertionError("create failed: " + r.status() + " " + r.raw());
        }
        return r.text("id");
    }

    /** One entry of the log and the offset just after it. */
    public record Entry(JsonNode json, String offset) {
        public String type() {
            return json.path("type").asText();
        }

        public String key() {
            return json.path("key").asText();
        }

        public JsonNode value() {
            return json.path("value");
        }
    }

    /** The whole log (or from {@code offset}) by catch-up GETs of {@code events}, as this principal sees it. */
    public List<JsonNode> log(String id, String offset) throws IOException, InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        String at = offset;
        while (true) {
            Reply r = get("/v1/sessions/" + id + "/events?offset=" + at);
            if (r.status() != 200) {
                throw new AssertionError("events read failed: " + r.status() + " " + r.raw());
            }
            r.body().forEach(out::add);
            at = r.response().headers().firstValue("Stream-Next-Offset").orElseThrow();
            if (r.response().headers().firstValue("Stream-Up-To-Date").isPresent()) {
                return out;
            }
        }
    }

    public List<JsonNode> log(String id) throws IOException, InterruptedException {
        return log(id, "-1");
    }

    /** Folds entries as the State Protocol does: (type, key) → latest value, deletes removed. */
    public static Map<String, JsonNode> fold(List<JsonNode> entries) {
        Map<String, JsonNode> state = new LinkedHashMap<>();
        for (JsonNode e : entries) {
            if (!e.has("type")) {
                continue; // control messages
            }
            String k = e.path("type").asText() + "/" + e.path("key").asText();
            if (e.path("headers").path("operation").asText().equals("delete")) {
                state.remove(k);
            } else {
                state.put(k, e.path("value"));
            }
        }
        return state;
    }

    /** The concatenated chunk deltas of a run, in seq order, checking seq is contiguous from 0. */
    public static String runText(List<JsonNode> entries, String runId) {
        StringBuilder text = new StringBuilder();
        int expected = 0;
        for (JsonNode e : entries) {
            if (e.path("type").asText().equals("chunk")
                    && e.path("value").path("run_id").asText().equals(runId)) {
                int seq = e.path("value").path("seq").asInt();
                if (seq != expected) {
                    throw new AssertionError("chunk seq " + seq + " where " + expected + " was due, run " + runId);
                }
                expected++;
                text.append(e.path("value").path("delta").asText());
            }
        }
        return text.toString();
    }

    /** Polls the session view until {@code test} holds (10 s at most). */
    public JsonNode awaitView(String id, Predicate<JsonNode> test) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        JsonNode view = null;
        while (System.nanoTime() < deadline) {
            view = get("/v1/sessions/" + id).body();
            if (view != null && test.test(view)) {
                return view;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the session never reached the expected state; last view: " + view);
    }

    /** Polls the log until an entry matches (10 s at most) and returns the whole log. */
    public List<JsonNode> awaitLog(String id, Predicate<JsonNode> entry) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<JsonNode> log = List.of();
        while (System.nanoTime() < deadline) {
            log = log(id);
            if (log.stream().anyMatch(entry)) {
                return log;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no matching entry appeared; log has " + log.size() + " entries");
    }

    /** The latest value of (type, key) in the log, or null. */
    public JsonNode latest(String id, String type, String key) throws IOException, InterruptedException {
        return fold(log(id)).get(type + "/" + key);
    }

    /** A live reader that collects entries (with the offset after each) on its own thread. */
    public interface Live extends AutoCloseable {
        List<Entry> entries();

        /** Destroys the connection without a goodbye (a killed device). */
        void kill() throws IOException;

        /** Sends a client frame (WebSocket readers only). */
        default void send(String json) throws IOException {
            throw new UnsupportedOperationException("not a WebSocket");
        }

        @Override
        default void close() throws IOException {
            kill();
        }

        /** Waits until an entry matches (10 s at most). */
        default Entry await(Predicate<Entry> test) throws InterruptedException {
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < deadline) {
                for (Entry e : entries()) {
                    if (test.test(e)) {
                        return e;
                    }
                }
                Thread.sleep(10);
            }
            throw new AssertionError(
                    "no matching entry arrived; got " + entries().size());
        }
    }

    /** An SSE reader of {@code events} from {@code offset}, over a raw socket so it can be killed. */
    public Live sse(String id, String offset) throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        String req = "GET /v1/sessions/" + id + "/events?live=sse&offset=" + offset + " HTTP/1.1\r\nHost: 127.0.0.1:"
                + port + "\r\n" + (token == null ? "" : "Authorization: Bearer " + token + "\r\n") + "\r\n";
        socket.getOutputStream().write(req.getBytes(StandardCharsets.ISO_8859_1));
        List<Entry> entries = new CopyOnWriteArrayList<>();
        Thread reader = Thread.ofVirtual().start(() -> readSse(socket, entries));
        return new Live() {
            @Override
            public List<Entry> entries() {
                return entries;
            }

            @Override
            public void kill() throws IOException {
                socket.setSoLinger(true, 0); // RST: the server sees the device vanish
                socket.close();
                reader.interrupt();
            }
        };
    }

    /** Reads the response head, then decodes chunked framing and parses SSE events from it. */
    private static void readSse(Socket socket, List<Entry> entries) {
        try (InputStream raw = socket.getInputStream()) {
            java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(raw));
            while (!line(in).isEmpty()) {
                // status line and headers
            }
            SseParser parser = new SseParser(entries);
            while (true) {
                int size = Integer.parseInt(line(in).trim(), 16);
                if (size == 0) {
                    return;
                }
                byte[] chunk = new byte[size];
                in.readFully(chunk);
                line(in);
                parser.feed(new String(chunk, StandardCharsets.UTF_8));
            }
        } catch (IOException | NumberFormatException e) {
            // killed or closed
        }
    }

    private static String line(java.io.DataInputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int c; (c = in.read()) >= 0; ) {
            if (c == '\n') {
                int n = sb.length();
                return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
            }
            sb.append((char) c);
        }
        throw new java.io.EOFException();
    }

    /** SSE events from text fed in pieces: data events' entries get the next control event's offset. */
    private static final class SseParser {
        private final List<Entry> entries;
        private final StringBuilder buffer = new StringBuilder();
        private final List<JsonNode> pending = new ArrayList<>();
        private String event;
        private final StringBuilder data = new StringBuilder();

        SseParser(List<Entry> entries) {
            this.entries = entries;
        }

        void feed(String text) throws IOException {
            buffer.append(text);
            for (int nl; (nl = buffer.indexOf("\n")) >= 0; ) {
                String line = buffer.substring(0, nl);
                buffer.delete(0, nl + 1);
                if (line.startsWith("event:")) {
                    event = line.substring(6).trim();
                } else if (line.startsWith("data:")) {
                    data.append(line.substring(5));
                } else if (line.isEmpty() && event != null) {
                    JsonNode payload = JSON.readTree(data.toString());
                    if (event.equals("data")) {
                        payload.forEach(pending::add);
                    } else if (event.equals("control")) {
                        // the control event's offset is where the data event before it ends: only the
                        // last entry of that event carries it
                        String next = payload.path("streamNextOffset").asText();
                        for (int i = 0; i < pending.size(); i++) {
                            entries.add(new Entry(pending.get(i), i == pending.size() - 1 ? next : null));
                        }
                        pending.clear();
                    }
                    event = null;
                    data.setLength(0);
                }
            }
        }
    }

    /** A WebSocket reader of the session from {@code offset} (null: none given). */
    public Live ws(String id, String offset, List<String> frames) throws IOException {
        RawWebSocket ws = RawWebSocket.open(
                port,
                "/v1/sessions/" + id + "/ws" + (offset == null ? "" : "?offset=" + offset),
                token == null ? new String[0] : new String[] {"Authorization: Bearer " + token});
        if (!ws.handshake().startsWith("HTTP/1.1 101")) {
            throw new AssertionError("WebSocket upgrade refused: " + ws.handshake());
        }
        List<Entry> entries = new CopyOnWriteArrayList<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                for (String f; (f = ws.next(60_000)) != null; ) {
                    frames.add(f);
                    JsonNode j = JSON.readTree(f);
                    if (j.has("key") && j.has("offset")) {
                        ObjectNode entry = j.deepCopy();
                        String off = entry.remove("offset").asText();
                        entries.add(new Entry(entry, off));
                    }
                }
            } catch (IOException e) {
                // killed
            }
        });
        return new Live() {
            @Override
            public List<Entry> entries() {
                return entries;
            }

            @Override
            public void send(String json) throws IOException {
                synchronized (ws) {
                    ws.text(json);
                }
            }

            @Override
            public void kill() throws IOException {
                ws.socket().setSoLinger(true, 0);
                ws.close();
                reader.interrupt();
            }
        };
    }

    /** Sends a client frame on a fresh WebSocket and returns the reply or error frame for its ref. */
    public static JsonNode frameReply(List<String> frames, String ref) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            for (String f : frames) {
                JsonNode j = JSON.readTree(f);
                if (ref.equals(j.path("ref").asText(null))) {
                    return j;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no reply for ref " + ref + "; frames: " + frames);
    }
}
