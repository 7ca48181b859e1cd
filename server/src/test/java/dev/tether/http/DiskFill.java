package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.TestServer;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Writers that fill a small disk with appends (one writer per stream, so each stream's order is
 * known) and creates with a body, remembering every answer, then check that the store holds
 * exactly what was acknowledged: nothing answered 503 is there, nothing answered 2xx is missing.
 *
 * <p>Not thread-safe apart from {@link #untilFull()}, which runs its own writers.
 */
final class DiskFill {
    private static final int BODY_BYTES = 16 * 1024;
    /** Consecutive refusals after which a writer stops: the disk is full, not briefly busy. */
    private static final int REFUSALS = 3;

    private record Answer(String body, int status) {}

    private TestServer server;
    private final List<String> streams = new ArrayList<>();
    private final Map<String, List<Answer>> appends = new ConcurrentHashMap<>();
    private final Map<String, Answer> creates = new ConcurrentHashMap<>();

    DiskFill(TestServer server, int streamCount) throws Exception {
        this.server = server;
        for (int i = 0; i < streamCount; i++) {
            String path = "/v1/stream/full-" + i;
            assertEquals(201, server.put(path, "text/plain").statusCode(), "create " + path);
            streams.add(path);
            appends.put(path, Collections.synchronizedList(new ArrayList<>()));
        }
    }

    /** Points the checks at another server on the same data (after a restart). */
    DiskFill on(TestServer next) {
        this.server = next;
        return this;
    }

    /** Appends and creates concurrently until every writer has been refused a few times in a row. */
    void untilFull() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(streams.size() + 1);
        try {
            List<Future<?>> writers = new ArrayList<>();
            for (String path : streams) {
                writers.add(pool.submit(() -> {
                    fillStream(path);
                    return null;
                }));
            }
            writers.add(pool.submit(() -> {
                fillWithCreates();
                return null;
            }));
            for (Future<?> w : writers) {
                w.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        long refused = appends.values().stream()
                .flatMap(List::stream)
                .filter(a -> a.status() == 503)
                .count();
        long accepted = appends.values().stream()
                .flatMap(List::stream)
                .filter(a -> a.status() == 204)
                .count();
        assertTrue(
                accepted > 0 && refused > 0,
                "the disk filled up part-way: " + accepted + " accepted, " + refused + " refused");
    }

    private void fillStream(String path) throws Exception {
        int refusedInARow = 0;
        for (int k = 0; refusedInARow < REFUSALS && k < 1000; k++) {
            String body = body(path, k);
            int status = server.post(path, "text/plain", body).statusCode();
            appends.get(path).add(new Answer(body, status));
            assertTrue(status == 204 || status == 503, "an append is either acknowledged or refused: " + status);
            refusedInARow = status == 503 ? refusedInARow + 1 : 0;
        }
    }

    private void fillWithCreates() throws Exception {
        int refusedInARow = 0;
        for (int k = 0; refusedInARow < REFUSALS && k < 1000; k++) {
            String path = "/v1/stream/full-new-" + k;
            String body = body(path, 0);
            int status = create(path, body).statusCode();
            creates.put(path, new Answer(body, status));
            assertTrue(status == 201 || status == 503, "a create is either acknowledged or refused: " + status);
            refusedInARow = status == 503 ? refusedInARow + 1 : 0;
        }
    }

    private HttpResponse<String> create(String path, String body) throws Exception {
        return server.send(server.request(path)
                .header("Content-Type", "text/plain")
                .PUT(HttpRequest.BodyPublishers.ofString(body))
                .build());
    }

    /** A 16 KiB body that starts with a marker naming its stream and number. */
    private static String body(String path, int k) {
        String marker = path.substring(path.lastIndexOf('/') + 1) + "#" + k + ";";
        return marker + ".".repeat(BODY_BYTES - marker.length());
    }

    void assertEveryAnswerMatchesWhatIsStored(String when) throws Exception {
        for (String path : streams) {
            List<String> acknowledged = new ArrayList<>();
            synchronized (appends.get(path)) {
                for (Answer a : appends.get(path)) {
                    if (a.status() == 204) {
                        acknowledged.add(marker(a.body()));
                    }
                }
            }
            assertEquals(
                    acknowledged,
                    markers(readAll(path)),
                    when + ": " + path + " holds exactly its acknowledged appends, in order, and no refused one");
        }
        for (var e : creates.entrySet()) {
            HttpResponse<String> read = server.get(e.getKey());
            if (e.getValue().status() == 201) {
                assertEquals(200, read.statusCode(), when + ": an acknowledged create exists: " + e.getKey());
                assertEquals(e.getValue().body(), read.body(), when + ": with its body: " + e.getKey());
            } else {
                assertEquals(404, read.statusCode(), when + ": a refused create left nothing: " + e.getKey());
            }
        }
    }

    /**
     * Recovery: every stream, and the path of every refused create, takes a write again. Like a
     * client honouring Retry-After, the first append may be refused a few times while the
     * checkpointer, which could not run while the disk was full, copies the WAL out.
     */
    void assertEveryStreamTakesAnAppendAgain() throws Exception {
        for (String path : streams) {
            HttpResponse<String> res = null;
            for (int attempt = 0; attempt < 50 && (res == null || res.statusCode() == 503); attempt++) {
                if (res != null) {
                    Thread.sleep(100);
                }
                String body = body(path, appends.get(path).size());
                res = server.post(path, "text/plain", body);
                appends.get(path).add(new Answer(body, res.statusCode()));
            }
            assertEquals(
                    204,
                    res.statusCode(),
                    path + " takes appends again once there is space: no stream is stuck: " + res.body());
        }
        for (var e : creates.entrySet()) {
            if (e.getValue().status() != 201) {
                assertEquals(201, create(e.getKey(), e.getValue().body()).statusCode(), "re-create " + e.getKey());
                creates.put(e.getKey(), new Answer(e.getValue().body(), 201));
            }
        }
    }

    private String readAll(String path) throws Exception {
        StringBuilder out = new StringBuilder();
        String offset = "-1";
        while (true) {
            HttpResponse<String> res = server.get(path + "?offset=" + offset);
            assertEquals(200, res.statusCode(), "read " + path + ": " + res.body());
            out.append(res.body());
            if (res.headers().firstValue("Stream-Up-To-Date").isPresent()) {
                return out.toString();
            }
            offset = res.headers().firstValue("Stream-Next-Offset").orElseThrow();
        }
    }

    private static String marker(String body) {
        return body.substring(0, body.indexOf(';'));
    }

    private static List<String> markers(String content) {
        assertEquals(0, content.length() % BODY_BYTES, "the stream holds whole appends");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < content.length(); i += BODY_BYTES) {
            out.add(marker(content.substring(i, i + BODY_BYTES)));
        }
        return out;
    }
}
