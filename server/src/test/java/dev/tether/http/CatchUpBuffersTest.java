package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.TestServer;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A catch-up read is written from a pooled direct buffer ({@code ReadHandler}), which goes back to
 * the pool once the response is written: reading a megabyte a hundred times must not hold a
 * hundred megabytes of direct memory, and every read gets the stream's bytes.
 */
class CatchUpBuffersTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(60)
    void catchUpReadsGiveTheirDirectBuffersBack() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            String chunk = bigStream(server);
            String json = "[" + "{\"k\":1},".repeat(20_000) + "{\"k\":2}]";
            assertEquals(201, server.put("/v1/stream/doc", "application/json").statusCode());
            assertEquals(
                    204, server.post("/v1/stream/doc", "application/json", json).statusCode());

            read(server, chunk, json); // the pool's first chunks
            long before = usedDirectMemory();
            for (int i = 0; i < 100; i++) {
                read(server, chunk, json);
            }
            long grown = usedDirectMemory() - before;
            assertTrue(grown < 32L << 20, "100 reads of 1 MiB left " + (grown >> 20) + " MiB of direct memory in use");
        }
    }

    /**
     * A reader that goes away mid-body fails the write: the buffer must go back to the pool on
     * that path too.
     */
    @Test
    @Timeout(120)
    void aReaderThatLeavesMidBodyStillGivesItsBufferBack() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            String chunk = bigStream(server);
            abandon(server); // the pool's first chunks
            settle();
            long before = usedDirectMemory();
            for (int i = 0; i < 100; i++) {
                abandon(server);
            }
            settle();
            long grown = usedDirectMemory() - before;
            assertTrue(
                    grown < 32L << 20,
                    "100 reads abandoned mid-body left " + (grown >> 20) + " MiB of direct memory in use");
            assertEquals(chunk.repeat(4), server.get("/v1/stream/big?offset=-1").body());
        }
    }

    /**
     * Asks for the megabyte 16 times on one connection (pipelined: more than the kernel's send
     * buffer takes, so the server still holds some of it), takes the first bytes, then resets.
     */
    private static void abandon(TestServer server) throws Exception {
        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(4096);
            s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream()
                    .write(("GET /v1/stream/big?offset=-1 HTTP/1.1\r\nHost: 127.0.0.1:" + server.port() + "\r\n\r\n")
                            .repeat(16)
                            .getBytes(StandardCharsets.US_ASCII));
            byte[] head = new byte[512];
            int n = s.getInputStream().read(head);
            assertTrue(n > 0, "no answer");
            String answer = new String(head, 0, n, StandardCharsets.US_ASCII);
            assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
            s.setSoLinger(true, 0); // close with a reset, not a graceful FIN
        }
    }

    /** Time for the server to see the resets: its pending writes fail, and complete. */
    private static void settle() throws InterruptedException {
        Thread.sleep(1000);
    }

    /** Stream {@code big}: four appends of a 256 KiB chunk, which it returns. */
    private static String bigStream(TestServer server) throws Exception {
        assertEquals(201, server.put("/v1/stream/big", "text/plain").statusCode());
        String chunk = "abcdefgh".repeat(32 * 1024);
        for (int i = 0; i < 4; i++) {
            assertEquals(204, server.post("/v1/stream/big", "text/plain", chunk).statusCode());
        }
        return chunk;
    }

    private static long usedDirectMemory() {
        return ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT)
                .metric()
                .usedDirectMemory();
    }

    private static void read(TestServer server, String chunk, String json) throws Exception {
        HttpResponse<String> text = server.get("/v1/stream/big?offset=-1");
        assertEquals(200, text.statusCode());
        assertEquals(chunk.repeat(4), text.body());
        HttpResponse<String> array = server.get("/v1/stream/doc?offset=-1");
        assertEquals(200, array.statusCode());
        assertEquals(json, array.body());
    }
}
