package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.TestServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An SSE tail sends a keep-alive (a control event with no data event before it) once it has
 * waited the keep-alive interval ({@code --sse-keep-alive}, here far shorter than the long-poll
 * timeout) at the tail, and none while appends keep it busy. The session keeps one timer and moves it on lazily instead of setting and cancelling
 * one per event; these are the two ways that could go wrong.
 */
class SseKeepAliveTest {
    private static final long INTERVAL_MILLIS = 500;

    @TempDir
    Path dir;

    /** One SSE event as read: its type, its data lines, when it arrived, whether it was a keep-alive. */
    private record Event(String type, String data, long atNanos, boolean keepAlive) {}

    @Test
    void aBusyTailGetsNoKeepAliveAndAnIdleOneGetsThemAtTheInterval() throws Exception {
        try (TestServer server = TestServer.start(
                dir, c -> c.longPollTimeout(Duration.ofSeconds(30)).sseKeepAlive(Duration.ofMillis(INTERVAL_MILLIS)))) {
            assertEquals(201, server.put("/v1/stream/k", "text/plain").statusCode());
            assertEquals(204, server.post("/v1/stream/k", "text/plain", "m0;").statusCode());
            List<Event> events = new CopyOnWriteArrayList<>();
            HttpResponse<Stream<String>> sse = server.client()
                    .sendAsync(
                            server.request("/v1/stream/k?live=sse&offset=-1")
                                    .timeout(Duration.ofSeconds(30))
                                    .build(),
                            HttpResponse.BodyHandlers.ofLines())
                    .get(10, TimeUnit.SECONDS);
            assertEquals(200, sse.statusCode());
            Thread reader = Thread.ofVirtual().start(() -> read(sse.body(), events));
            try {
                await(events, 2); // m0's data event and its control event

                // Busy: an append every 50 ms for 2 s, so no wait at the tail lasts the interval.
                long busyFrom = System.nanoTime();
                for (int i = 1; i <= 40; i++) {
                    assertEquals(
                            204,
                            server.post("/v1/stream/k", "text/plain", "m" + i + ";")
                                    .statusCode());
                    Thread.sleep(50);
                }
                long busyUntil = System.nanoTime();
                // Idle: three intervals and a bit.
                Thread.sleep(3 * INTERVAL_MILLIS + 200);

                StringBuilder data = new StringBuilder();
                long lastData = 0;
                List<Event> keepAlives = new ArrayList<>();
                for (Event e : events) {
                    if (e.type().equals("data")) {
                        data.append(e.data());
                        lastData = e.atNanos();
                    } else if (e.keepAlive()) {
                        keepAlives.add(e);
                    }
                }
                StringBuilder expected = new StringBuilder();
                for (int i = 0; i <= 40; i++) {
                    expected.append('m').append(i).append(';');
                }
                assertEquals(expected.toString(), data.toString(), "every append, once, in order");
                for (Event k : keepAlives) {
                    assertTrue(
                            k.atNanos() < busyFrom || k.atNanos() > busyUntil,
                            "a keep-alive while appends arrived every 50 ms (interval " + INTERVAL_MILLIS + " ms), "
                                    + (k.atNanos() - busyFrom) / 1_000_000 + " ms into the busy phase");
                }
                List<Long> idleGaps = keepAlives.stream()
                        .filter(k -> k.atNanos() > busyUntil)
                        .map(k -> (k.atNanos() - busyUntil) / 1_000_000)
                        .toList();
                assertTrue(
                        idleGaps.size() >= 2,
                        "an idle tail gets a keep-alive every " + INTERVAL_MILLIS + " ms; got them at " + idleGaps
                                + " ms after the last append");
                long firstAfterData = (keepAlives.stream()
                                        .filter(k -> k.atNanos() > busyUntil)
                                        .findFirst()
                                        .orElseThrow()
                                        .atNanos()
                                - lastData)
                        / 1_000_000;
                assertTrue(
                        firstAfterData >= INTERVAL_MILLIS - 50,
                        "the first keep-alive came " + firstAfterData + " ms after the last data event, before the "
                                + INTERVAL_MILLIS + " ms interval");
            } finally {
                sse.body().close();
                reader.join(5000);
            }
        }
    }

    /** The two settings are apart: a long-poll at the tail waits the long-poll timeout, not the keep-alive's. */
    @Test
    void aLongPollWaitsTheLongPollTimeoutNotTheKeepAlive() throws Exception {
        try (TestServer server = TestServer.start(
                dir, c -> c.longPollTimeout(Duration.ofMillis(300)).sseKeepAlive(Duration.ofSeconds(50)))) {
            assertEquals(201, server.put("/v1/stream/p", "text/plain").statusCode());
            HttpResponse<String> poll = server.client()
                    .send(
                            server.request("/v1/stream/p?live=long-poll&offset=now")
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            assertEquals(204, poll.statusCode(), "the long-poll ends at its own timeout");
        }
    }

    /** Reads events until the body ends; a control event with no data event just before it is a keep-alive. */
    private static void read(Stream<String> lines, List<Event> into) {
        String[] type = {null};
        StringBuilder data = new StringBuilder();
        String[] previous = {null};
        try {
            lines.forEach(line -> {
                if (line.isEmpty()) {
                    if (type[0] != null) {
                        boolean keepAlive = type[0].equals("control") && !"data".equals(previous[0]);
                        into.add(new Event(type[0], data.toString(), System.nanoTime(), keepAlive));
                        previous[0] = type[0];
                    }
                    type[0] = null;
                    data.setLength(0);
                } else if (line.startsWith("event: ")) {
                    type[0] = line.substring(7);
                } else if (line.startsWith("data:")) {
                    data.append(line.substring(5));
                }
            });
        } catch (RuntimeException closed) {
            // the test closed the body
        }
    }

    private static void await(List<Event> events, int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (events.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(events.size() >= count, "events so far: " + events);
    }
}
