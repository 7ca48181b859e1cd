package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.RawWebSocket;
import dev.tether.testing.Scrapes;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Findings 5 and 17: a client that stops reading a response (SSE or WebSocket) no longer pins the
 * whole response in the server's buffers; it is disconnected once it stays behind for the
 * slow-consumer time, and resumes with {@code starting_after}.
 */
class SlowResponseReaderTest {
    /** About 24 MB of events: far more than the kernel's socket buffers hold. */
    private static final int CHUNKS = 360;

    private static final String CHUNK = "x".repeat(64 * 1024);

    @TempDir
    Path dir;

    private static ScriptedUpstream.Text bigAnswer() {
        return new ScriptedUpstream.Text(0, Collections.nCopies(CHUNKS, CHUNK), -1, 0);
    }

    @Test
    void aStalledSseReaderIsDisconnected() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start().then(bigAnswer());
                TestServer server = TestServer.start(
                        dir, c -> c.upstream(URI.create(up.url())).slowConsumerTimeout(Duration.ofMillis(500)))) {
            String body = "{\"model\":\"m\",\"input\":\"go\",\"stream\":true,\"store\":false}";
            try (Socket s = new Socket()) {
                s.setReceiveBufferSize(16 * 1024);
                s.connect(new InetSocketAddress("127.0.0.1", server.port()));
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                + "Content-Length: " + body.length() + "\r\n\r\n" + body)
                        .getBytes(StandardCharsets.UTF_8));
                out.flush();
                // A stalled reader takes nothing while the answer is produced, until the server gives up on it.
                Scrapes.awaitSlowReaderCut(server, "responses_sse");
                s.setSoTimeout(15_000); // a server that never cuts it would leave the read waiting
                long received = drain(s.getInputStream());
                assertTrue(
                        received < (long) CHUNKS * CHUNK.length(),
                        "the server cut the stalled reader instead of buffering the whole answer (" + received
                                + " bytes arrived)");
            }
        }
    }

    @Test
    void aStalledWebSocketReaderIsClosedWithAReason() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start().then(bigAnswer());
                TestServer server = TestServer.start(
                        dir, c -> c.upstream(URI.create(up.url())).slowConsumerTimeout(Duration.ofMillis(500)))) {
            try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses")) {
                ws.socket().setReceiveBufferSize(16 * 1024);
                ws.text("{\"type\":\"response.create\",\"model\":\"m\",\"input\":\"go\",\"store\":false}");
                Scrapes.awaitSlowReaderCut(server, "websocket");
                RawWebSocket.Outcome o = ws.readUntilClose(20_000);
                assertEquals(1008, o.closeCode(), "closed as too slow: " + o.closeReason());
                assertTrue(o.closeReason().contains("slow"), o.closeReason());
            }
        }
    }

    /** Reads until EOF or reset; returns the bytes received. */
    private static long drain(InputStream in) {
        long total = 0;
        byte[] buf = new byte[64 * 1024];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                total += n;
            }
        } catch (IOException e) {
            // reset by the server, or nothing more within the timeout: what arrived counts
        }
        return total;
    }
}
