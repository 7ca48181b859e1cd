package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.testing.RawWebSocket;
import dev.tether.testing.Scrapes;
import dev.tether.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 12: connections are bounded, and a client that takes too long — trickling its headers,
 * its body, or sitting idle between requests — is disconnected, so idle sockets cannot starve
 * everyone else.
 */
class ConnectionLimitsTest {
    @TempDir
    Path dir;

    /** Whether the server closed the socket within {@code millis} (EOF or reset), reading whatever came. */
    private static boolean closedWithin(Socket s, long millis) throws IOException {
        s.setSoTimeout((int) millis);
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            while (in.read(buf) >= 0) {
                // discard answers; wait for the close
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }

    @Test
    void connectionsBeyondTheLimitAreClosedAtOnceAndTheRestStillServe() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.maxConnections(4))) {
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    idle.add(new Socket("127.0.0.1", server.port()));
                }
                Thread.sleep(300); // let the server register them
                try (Socket fifth = new Socket("127.0.0.1", server.port())) {
                    assertTrue(closedWithin(fifth, 3000), "the fifth connection is refused");
                }
            } finally {
                for (Socket s : idle) {
                    s.close();
                }
            }
            Thread.sleep(300);
            assertEquals(200, server.get("/health").statusCode(), "room again once the idle ones left");
        }
    }

    /**
     * Found by bench/connections: a WebSocket upgrade replaced the connection's close handler, so
     * every closed WebSocket kept its slot, and after max-connections of them the server refused
     * everyone, /health included.
     */
    @Test
    void closedWebSocketsGiveTheirSlotsBack() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.maxConnections(10))) {
            for (int i = 0; i < 30; i++) {
                try (RawWebSocket ws = RawWebSocket.open(server.port(), "/v1/responses")) {
                    assertTrue(ws.handshake().startsWith("HTTP/1.1 101"), "socket " + i + ": " + ws.handshake());
                    ws.frame(8, new byte[] {0x03, (byte) 0xe8}, true, 0); // close 1000
                    ws.readUntilClose(5000);
                }
            }
            for (int i = 0;
                    i < 50 && Scrapes.sample(server.get("/metrics").body(), "tether_connections{kind=\"http\"}") > 1;
                    i++) {
                Thread.sleep(100);
            }
            assertEquals(
                    200, server.get("/health").statusCode(), "thirty closed sockets left room under a limit of ten");
            assertEquals(
                    1.0,
                    Scrapes.sample(server.get("/metrics").body(), "tether_connections{kind=\"http\"}"),
                    "only the scrape's own connection is open");
        }
    }

    @Test
    void headersTrickledSlowerThanTheHeaderTimeoutAreCutOff() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.headerTimeout(Duration.ofSeconds(1)))) {
            try (Socket s = new Socket("127.0.0.1", server.port())) {
                OutputStream out = s.getOutputStream();
                String request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
                long start = System.nanoTime();
                boolean closed = false;
                for (int i = 0; i < 40 && !closed; i++) {
                    try {
                        out.write(request.charAt(i % request.length()));
                        out.flush();
                    } catch (IOException e) {
                        closed = true;
                        break;
                    }
                    closed = closedWithin(s, 200);
                }
                assertTrue(closed, "a connection trickling one byte per 200 ms was never closed");
                assertTrue(
                        System.nanoTime() - start < Duration.ofSeconds(6).toNanos(),
                        "closed within a few sweeps of the 1 s header timeout");
            }
        }
    }

    @Test
    void anIdleKeepAliveConnectionAndATrickledBodyAreClosed() throws Exception {
        try (TestServer server =
                TestServer.start(dir, c -> c.idleTimeout(Duration.ofSeconds(1)).bodyTimeout(Duration.ofSeconds(1)))) {
            try (Socket s = new Socket("127.0.0.1", server.port())) {
                s.getOutputStream()
                        .write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.UTF_8));
                assertTrue(closedWithin(s, 5000), "idle after its answer: closed after the idle timeout");
            }
            try (Socket s = new Socket("127.0.0.1", server.port())) {
                s.getOutputStream()
                        .write(("POST /v1/stream/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                                        + "Content-Length: 100\r\n\r\nonly part")
                                .getBytes(StandardCharsets.UTF_8));
                assertTrue(closedWithin(s, 5000), "a body that never completes is cut off");
            }
        }
    }
}
