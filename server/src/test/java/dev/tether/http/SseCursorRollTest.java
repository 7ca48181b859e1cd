package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.memory.MemoryStreamStore;
import dev.tether.testing.InProcessApi;
import dev.tether.testing.ManualClock;
import dev.tether.testing.SseControls;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A live tail's cursor across interval boundaries (Durable Streams §10.1), on a clock the test
 * moves: a tail that sent no cursor gets each new interval's; one that echoed a cursor ahead keeps
 * its larger answer until the intervals pass it, and never goes below what it sent.
 */
class SseCursorRollTest {
    private static final long INTERVAL = 20_000;

    @Test
    @Timeout(60)
    void aTailsCursorFollowsTheIntervalsAndNeverGoesBack() throws Exception {
        // the middle of an interval, so that nothing but the test moves it
        ManualClock clock = new ManualClock(1_728_432_000_000L + 1_000 * INTERVAL + INTERVAL / 2);
        try (InProcessApi api = InProcessApi.start(new MemoryStreamStore(), null, clock, 1)) {
            HttpClient client = HttpClient.newHttpClient();
            URI stream = api.uri("/v1/stream/s");
            assertEquals(201, send(client, HttpRequest.newBuilder(stream).PUT(body(""))));
            BlockingQueue<Control> plain = tail(client, stream, "");
            BlockingQueue<Control> echoing = tail(client, stream, "&cursor=1005");

            Control first = next(plain);
            Control ahead = next(echoing);
            assertEquals(1_000, first.cursor(), "the current interval's cursor");
            assertTrue(
                    ahead.cursor() > 1_005 && ahead.cursor() <= 1_005 + 180,
                    "one past the echoed cursor, with jitter: " + ahead);

            clock.advanceMillis(INTERVAL); // into the next interval
            append(client, stream);
            Control plain1 = after(plain, first);
            Control echoing1 = after(echoing, ahead);
            assertEquals(1_001, plain1.cursor(), "the next interval's cursor");
            assertEquals(ahead.cursor(), echoing1.cursor(), "the echoed tail's cursor went back");

            clock.advanceMillis((ahead.cursor() - 1_001 + 2) * INTERVAL); // past the echoed tail's answer
            append(client, stream);
            assertEquals(ahead.cursor() + 2, after(plain, plain1).cursor());
            assertEquals(
                    ahead.cursor() + 2,
                    after(echoing, echoing1).cursor(),
                    "the intervals passed the echoed tail's cursor");
            client.shutdownNow(); // the tails end here, not at the server's drain
        }
    }

    private static HttpRequest.BodyPublisher body(String text) {
        return HttpRequest.BodyPublishers.ofString(text);
    }

    private static int send(HttpClient client, HttpRequest.Builder request) throws Exception {
        return client.send(request.header("Content-Type", "text/plain").build(), HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private static void append(HttpClient client, URI stream) throws Exception {
        assertEquals(204, send(client, HttpRequest.newBuilder(stream).POST(body("x"))));
    }

    /** A control event: the stream's next offset there, and the cursor. */
    private record Control(String offset, long cursor) {}

    /** The control events of a tail from the stream's current end. */
    private static BlockingQueue<Control> tail(HttpClient client, URI stream, String query) throws Exception {
        HttpResponse<Stream<String>> sse = client.sendAsync(
                        HttpRequest.newBuilder(URI.create(stream + "?live=sse&offset=now" + query))
                                .build(),
                        HttpResponse.BodyHandlers.ofLines())
                .get(10, TimeUnit.SECONDS);
        assertEquals(200, sse.statusCode());
        BlockingQueue<Control> cursors = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try {
                SseControls.read(
                        sse.body(),
                        control -> cursors.add(new Control(
                                control.path("streamNextOffset").asText(),
                                control.path("streamCursor").asLong())));
            } catch (Exception e) {
                // the test ended and closed the connection
            }
        });
        return cursors;
    }

    /**
     * The first control event past {@code before}'s offset (an append's). A tail may also send a
     * control event while it waits (a keep-alive), at the offset it waits at, and one sent before
     * the clock moved carries the old interval's cursor.
     */
    private static Control after(BlockingQueue<Control> controls, Control before) throws InterruptedException {
        Control c;
        do {
            c = next(controls);
        } while (c.offset().equals(before.offset()));
        return c;
    }

    private static Control next(BlockingQueue<Control> controls) throws InterruptedException {
        Control c = controls.poll(10, TimeUnit.SECONDS);
        assertTrue(c != null, "no control event within 10 s");
        return c;
    }
}
