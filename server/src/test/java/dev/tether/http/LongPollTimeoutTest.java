package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.stream.Lookup;
import dev.tether.stream.StreamEngine;
import dev.tether.testing.HeldWriter;
import dev.tether.testing.TestServer;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long-poll whose timeout comes while the wake-up of a change is still on its way answers the
 * stream as it is at the timeout, not as the poll found it (Durable Streams §5.7): a stream closed
 * before the answer is answered closed, and an append made before it is the answer.
 */
class LongPollTimeoutTest {
    @TempDir
    Path dir;

    @Test
    void aCloseWhoseWakeUpIsLateStillReachesTheTimedOutPoll() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) { // long-poll timeout 500 ms
            HttpResponse<String> answer = pollWhileTheWakeUpIsHeld(
                    server,
                    server.request("/v1/stream/p")
                            .header("Stream-Closed", "true")
                            .POST(BodyPublishers.noBody())
                            .build());
            assertEquals(204, answer.statusCode());
            assertEquals(
                    "true",
                    answer.headers().firstValue("Stream-Closed").orElse(null),
                    "the stream closed before the poll's answer: "
                            + answer.headers().map());
        }
    }

    @Test
    void anAppendWhoseWakeUpIsLateIsTheTimedOutPollsAnswer() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            HttpResponse<String> answer = pollWhileTheWakeUpIsHeld(
                    server,
                    server.request("/v1/stream/p")
                            .header("Content-Type", "text/plain")
                            .POST(BodyPublishers.ofString("late"))
                            .build());
            assertEquals(
                    200,
                    answer.statusCode(),
                    "the append came before the answer: " + answer.headers().map());
            assertEquals("late", answer.body());
        }
    }

    /**
     * Makes stream {@code p}, long-polls its tail, and sends {@code change} while the writer thread
     * is held in the change's wake-up by a watcher registered before the poll's, so the poll's own
     * wake-up is not sent before its 500 ms timeout. Returns the poll's answer.
     */
    private static HttpResponse<String> pollWhileTheWakeUpIsHeld(TestServer server, HttpRequest change)
            throws Exception {
        assertEquals(201, server.put("/v1/stream/p", "text/plain").statusCode());
        StreamEngine engine = server.streams();
        var stream = ((Lookup.Found) engine.lookup("p")).stream();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch held = new CountDownLatch(1);
        engine.watch(stream, stream.tail(), HeldWriter.blocking(held, release));
        try {
            CompletableFuture<HttpResponse<String>> poll = server.client()
                    .sendAsync(
                            server.request("/v1/stream/p?live=long-poll&offset=now")
                                    .GET()
                                    .build(),
                            BodyHandlers.ofString());
            Thread.sleep(200); // the poll waits at the tail
            assertFalse(poll.isDone(), "the poll waits for a change");
            assertEquals(204, server.send(change).statusCode());
            assertTrue(held.await(5, TimeUnit.SECONDS), "the change's wake-up is held");
            try {
                return poll.get(1500, TimeUnit.MILLISECONDS); // its timeout, not its wake-up
            } catch (TimeoutException e) {
                release.countDown();
                return poll.get(5, TimeUnit.SECONDS);
            }
        } finally {
            release.countDown();
        }
    }
}
