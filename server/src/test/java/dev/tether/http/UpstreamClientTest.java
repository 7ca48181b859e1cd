package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.upstream.UpstreamTransport;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The upstream transport against a raw socket server that misbehaves on purpose. */
class UpstreamClientTest {
    private static final Duration HEAD = Duration.ofSeconds(10);

    private UpstreamTransport client;
    private ServerSocket server;

    @BeforeEach
    void open() {
        client = UpstreamClient.create(Duration.ofSeconds(5));
    }

    @AfterEach
    void close() throws IOException {
        client.close();
        if (server != null) {
            server.close();
        }
    }

    /** Serves every connection on its own thread with {@code handler}, after reading the request head. */
    private URI serve(Handler handler) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            while (readHead(s.getInputStream())) {
                                handler.handle(s, s.getOutputStream());
                            }
                        } catch (IOException | InterruptedException e) {
                            // the client went away
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
        return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1/x");
    }

    /** Reads a request head (and no body: the tests send GETs or tiny POSTs they do not read). */
    private static boolean readHead(InputStream in) throws IOException {
        int matched = 0;
        int b;
        while ((b = in.read()) >= 0) {
            matched = (b == '\r' && matched % 2 == 0) || (b == '\n' && matched % 2 == 1) ? matched + 1 : 0;
            if (matched == 4) {
                return true;
            }
        }
        return false;
    }

    private interface Handler {
        void handle(Socket socket, OutputStream out) throws IOException, InterruptedException;
    }

    private static void head(OutputStream out, long length) throws IOException {
        out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static byte pattern(long i) {
        return (byte) (i * 31 + (i >>> 11));
    }

    @Test
    void meanwhileRunsWhileTheRequestIsOutAndBeforeItsAnswer() throws Exception {
        CompletableFuture<Void> release = new CompletableFuture<>();
        AtomicBoolean answered = new AtomicBoolean();
        URI uri = serve((s, out) -> {
            try {
                release.get(5, TimeUnit.SECONDS); // the answer waits for meanwhile (or 5 s)
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // answer anyway: the assertions below say what went wrong
            }
            answered.set(true);
            head(out, 2);
            out.write("ok".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
        AtomicBoolean answeredBeforeMeanwhile = new AtomicBoolean(true);
        long start = System.nanoTime();
        UpstreamTransport.Answer answer = client.send(uri, Map.of(), null, HEAD, () -> {
            answeredBeforeMeanwhile.set(answered.get());
            release.complete(null);
        });
        try (InputStream body = answer.body()) {
            assertEquals("ok", new String(body.readAllBytes(), StandardCharsets.US_ASCII));
        }
        assertFalse(answeredBeforeMeanwhile.get(), "meanwhile ran before the answer came");
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(4), "and did not wait for it");

        IllegalStateException thrown = assertThrows(
                IllegalStateException.class,
                () -> client.send(uri, Map.of(), null, HEAD, () -> {
                    throw new IllegalStateException("the caller failed meanwhile");
                }));
        assertEquals("the caller failed meanwhile", thrown.getMessage());
    }

    @Test
    void aSlowReaderPausesTheConnectionAndStillGetsEveryByteInOrder() throws Exception {
        long total = 64L << 20;
        AtomicLong written = new AtomicLong();
        URI uri = serve((s, out) -> {
            head(out, total);
            byte[] block = new byte[64 << 10];
            for (long sent = 0; sent < total; sent += block.length) {
                for (int i = 0; i < block.length; i++) {
                    block[i] = pattern(sent + i);
                }
                out.write(block);
                written.addAndGet(block.length);
            }
            out.flush();
        });
        UpstreamTransport.Answer answer = client.send(uri, Map.of(), null, HEAD);
        assertEquals(200, answer.status());
        assertEquals("text/plain", answer.contentType());
        Thread.sleep(1500); // nothing is read: the client must stop taking bytes, so the server blocks
        assertTrue(
                written.get() < total / 2,
                "the server wrote " + written.get() + " bytes to a reader that read none: no back-pressure");
        try (InputStream in = answer.body()) {
            byte[] buf = new byte[100_000];
            long at = 0;
            int n;
            while ((n = in.read(buf)) >= 0) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] != pattern(at + i)) {
                        throw new AssertionError("byte " + (at + i) + " differs");
                    }
                }
                at += n;
            }
            assertEquals(total, at);
        }
    }

    @Test
    void aConnectionDroppedMidBodyIsAnErrorAfterTheBytesThatCame() throws Exception {
        URI uri = serve((s, out) -> {
            head(out, 100);
            out.write("0123456789".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            s.close();
        });
        UpstreamTransport.Answer answer = client.send(uri, Map.of(), null, HEAD);
        InputStream in = answer.body();
        assertArrayEquals("0123456789".getBytes(StandardCharsets.US_ASCII), in.readNBytes(10));
        assertThrows(IOException.class, in::read, "a truncated body must not read as its end");
    }

    @Test
    void closingABodyEarlyDropsItsConnectionAndTheNextRequestWorks() throws Exception {
        CompletableFuture<Throwable> firstEnded = new CompletableFuture<>();
        AtomicBoolean endlessSent = new AtomicBoolean();
        URI uri = serve((s, out) -> {
            if (endlessSent.compareAndSet(false, true)) {
                head(out, 1L << 40);
                try {
                    while (true) {
                        out.write(new byte[8192]);
                        Thread.sleep(1);
                    }
                } catch (IOException e) {
                    firstEnded.complete(e);
                    throw e;
                }
            }
            head(out, 4);
            out.write("fine".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
        UpstreamTransport.Answer first = client.send(uri, Map.of(), null, HEAD);
        assertEquals(8192, first.body().readNBytes(8192).length);
        first.body().close();
        assertInstanceOf(
                IOException.class,
                firstEnded.get(10, TimeUnit.SECONDS),
                "the endless body's connection was not dropped");
        UpstreamTransport.Answer second = client.send(uri, Map.of(), "x".getBytes(StandardCharsets.US_ASCII), HEAD);
        try (InputStream in = second.body()) {
            assertEquals("fine", new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void anInterruptEndsABlockedReadAndLeavesTheThreadInterrupted() throws Exception {
        URI uri = serve((s, out) -> {
            head(out, 100);
            out.write('a');
            out.flush();
            Thread.sleep(60_000);
        });
        UpstreamTransport.Answer answer = client.send(uri, Map.of(), null, HEAD);
        CompletableFuture<Object[]> outcome = new CompletableFuture<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (InputStream in = answer.body()) {
                in.read();
                in.read(); // blocks: the server sends nothing more
                outcome.complete(new Object[] {"returned", false});
            } catch (IOException e) {
                outcome.complete(new Object[] {e, Thread.currentThread().isInterrupted()});
            }
        });
        Thread.sleep(300);
        reader.interrupt();
        Object[] r = outcome.get(10, TimeUnit.SECONDS);
        assertInstanceOf(InterruptedIOException.class, r[0]);
        assertTrue((Boolean) r[1], "the interrupt flag was swallowed");
    }

    @Test
    void noHeadInTimeIsATimeoutAndNothingWorse() throws Exception {
        URI uri = serve((s, out) -> Thread.sleep(60_000));
        long start = System.nanoTime();
        assertThrows(UpstreamTransport.Timeout.class, () -> client.send(uri, Map.of(), null, Duration.ofMillis(300)));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
    }

    @Test
    void aRefusedConnectionIsAnIOExceptionNotATimeout() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        IOException e = assertThrows(
                IOException.class,
                () -> client.send(URI.create("http://127.0.0.1:" + port + "/v1/x"), Map.of(), null, HEAD));
        assertFalse(e instanceof UpstreamTransport.Timeout);
    }

    @Test
    void anHttpsUpstreamIsSpokenToOverTls() throws Exception {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        CompletableFuture<byte[]> hello = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (Socket s = server.accept()) {
                byte[] buf = new byte[2048];
                int n = s.getInputStream().read(buf);
                hello.complete(Arrays.copyOf(buf, Math.max(n, 0)));
            } catch (IOException e) {
                hello.completeExceptionally(e);
            }
        });
        URI uri = URI.create("https://localhost:" + server.getLocalPort() + "/v1/x");
        assertThrows(IOException.class, () -> client.send(uri, Map.of(), null, Duration.ofSeconds(5)));
        byte[] first = hello.get(10, TimeUnit.SECONDS);
        assertTrue(first.length > 5 && first[0] == 0x16, "not a TLS handshake: the request went out in clear text");
        assertFalse(
                new String(first, StandardCharsets.ISO_8859_1).contains("GET /v1/x"),
                "the request went out in clear text");
    }
}
