package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.StoreException;
import dev.tether.store.StreamRecord;
import dev.tether.stream.Offset;
import dev.tether.stream.Pieces;
import dev.tether.stream.ReadResult;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link PiecedBody} announces the whole body's length before it has read it. When a later piece
 * fails (its messages trimmed or deleted since the plan) or does not add up to the plan, it can no
 * longer send a status: it must cut the connection, so the reader sees a short body at once
 * instead of waiting for bytes that never come. Driven with planned reads of our own making, so
 * the failure lands after the headers every time.
 */
class PiecedBodyTest {
    private static final int PIECE = 100_000;
    private static final byte[] BODY = body(1_000_000);

    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void close() {
        vertx.close().await();
    }

    @Test
    @Timeout(30)
    void aWholePlanIsSentWhole() throws Exception {
        Received r = fetch(serve(pieces(0, false)));
        assertEquals(BODY.length, r.announced);
        assertTrue(r.complete, "the connection was cut after " + r.body.length + " bytes");
        assertArrayEquals(BODY, r.body);
    }

    @Test
    @Timeout(30)
    void aPieceThatFailsCutsTheConnection() throws Exception {
        Received r = fetch(serve(pieces(4, false)));
        assertEquals(BODY.length, r.announced);
        assertTrue(
                r.body.length <= 3 * PIECE,
                r.body.length + " bytes: more than the three pieces read before the failure");
        assertTrue(!r.complete);
    }

    /** Before the headers have gone out, a failure still gets a status and a body of its own length. */
    @Test
    @Timeout(30)
    void aFirstPieceThatFailsIsAnErrorStatus() throws Exception {
        String answer = errorAnswer(serve(pieces(1, false)));
        assertTrue(answer.startsWith("HTTP/1.1 503"), answer);
        assertTrue(answer.contains("trimmed since the plan"), answer);
    }

    /** A plan of one piece (one large message) that does not add up: the headers are not out yet either. */
    @Test
    @Timeout(30)
    void aOnePiecePlanThatDoesNotAddUpIsAnErrorStatus() throws Exception {
        String answer = errorAnswer(serve(pieces(BODY.length, 0, true)));
        assertTrue(answer.startsWith("HTTP/1.1 500"), answer);
    }

    /** One GET on a connection the server closes: the whole answer, its length checked against its head. */
    private static String errorAnswer(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream()
                    .write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
            String answer;
            try {
                answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the reader was left waiting for the error's body", e);
            }
            String head = answer.substring(0, answer.indexOf("\r\n\r\n")).toLowerCase(Locale.ROOT);
            int at = head.indexOf("content-length: ") + "content-length: ".length();
            int announced = Integer.parseInt(head.substring(at).split("\r\n")[0].trim());
            assertEquals(answer.length() - head.length() - 4, announced, "the error's length, not the plan's");
            return answer;
        }
    }

    @Test
    @Timeout(30)
    void aPlanThatDoesNotAddUpCutsTheConnection() throws Exception {
        Received r = fetch(serve(pieces(0, true)));
        assertTrue(r.body.length < BODY.length && !r.complete, r.body.length + " bytes");
    }

    /** Serves every request with a planned read of {@link #BODY} over {@code pieces}. */
    private int serve(Pieces pieces) {
        StreamRecord stream = new StreamRecord(
                1,
                "/t",
                "application/octet-stream",
                null,
                null,
                0,
                0,
                BODY.length,
                0,
                false,
                null,
                null,
                null,
                0,
                StreamRecord.Lifecycle.LIVE);
        ReadResult.Data read =
                new ReadResult.Data(stream, 0, BODY.length, new Offset(1, BODY.length), List.of(), true, pieces);
        HttpServer server = vertx.createHttpServer()
                .requestHandler(req -> PiecedBody.send(req.response().setStatusCode(200), read))
                .listen(0, "127.0.0.1")
                .await();
        return server.actualPort();
    }

    /**
     * {@link #BODY} in pieces of {@link #PIECE} (or {@code pieceBytes}) bytes, one message each.
     *
     * @param failingRead the read that fails (1 is the first), or 0 for none
     * @param shortLast   whether the last piece holds one byte less than it claims to end at
     */
    private static Pieces pieces(int failingRead, boolean shortLast) {
        return pieces(PIECE, failingRead, shortLast);
    }

    private static Pieces pieces(int pieceBytes, int failingRead, boolean shortLast) {
        AtomicInteger reads = new AtomicInteger();
        return new Pieces() {
            @Override
            public int rows() {
                return (BODY.length + pieceBytes - 1) / pieceBytes;
            }

            @Override
            public CompletionStage<Long> read(long from, Sink sink) {
                return CompletableFuture.supplyAsync(() -> {
                    if (reads.incrementAndGet() == failingRead) {
                        throw new CompletionException(new StoreException("trimmed since the plan", null, false));
                    }
                    int n = (int) Math.min(pieceBytes, BODY.length - from);
                    boolean last = from + n == BODY.length;
                    int given = shortLast && last ? n - 1 : n;
                    sink.size(1, given);
                    try {
                        sink.row(from, ByteBuffer.wrap(BODY, (int) from, given));
                    } catch (StoreException e) {
                        throw new CompletionException(e);
                    }
                    return from + n;
                });
            }
        };
    }

    private record Received(long announced, byte[] body, boolean complete) {}

    /** One GET: the announced length, the body bytes until that length or the connection's end. */
    private static Received fetch(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int c = in.read();
                assertTrue(c >= 0, "the connection ended inside the head: " + head);
                head.append((char) c);
            }
            String h = head.toString().toLowerCase(Locale.ROOT);
            assertTrue(h.startsWith("http/1.1 200"), h);
            int at = h.indexOf("content-length: ") + "content-length: ".length();
            long announced = Long.parseLong(h.substring(at, h.indexOf("\r\n", at)));
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            byte[] buffer = new byte[65536];
            try {
                while (body.size() < announced) {
                    int n = in.read(buffer, 0, (int) Math.min(buffer.length, announced - body.size()));
                    if (n < 0) {
                        break;
                    }
                    body.write(buffer, 0, n);
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the reader was left waiting after " + body.size() + " bytes", e);
            } catch (IOException reset) {
                // cut with a reset: the same to the reader as an early end
            }
            return new Received(announced, body.toByteArray(), body.size() == announced);
        }
    }

    private static byte[] body(int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + i / PIECE);
        }
        return b;
    }
}
