package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.upstream.UpstreamTransport;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The upstream transport against a raw socket server that misbehaves on purpose. */
class UpstreamClientTest {
    private static final Duration HEAD = Duration.ofSeconds(10);

    private EventLoops loops;
    private UpstreamTransport client;
    private ServerSocket server;

    @BeforeEach
    void open() throws Exception {
        loops = EventLoops.start(2);
        client = UpstreamClient.create(loops, Duration.ofSeconds(5));
    }

    @AfterEach
    void close() throws IOException {
        client.close();
        loops.close();
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

    /** A whole answer: its head, with the body's length, and the body. */
    private static void answer(OutputStream out, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        head(out, bytes.length);
        out.write(bytes);
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
            } catch (ExecutionException | TimeoutException e) {
                // answer anyway: the assertions below say what went wrong
            }
            answered.set(true);
            head(out, 2);
            out.write("ok".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
        AtomicBoolean answeredBeforeMeanwhile = new AtomicBoolean(true);
        long start = System.nanoTime();
        UpstreamTransport.Answer answer = client.send(
                uri,
                Map.of(),
                null,
                HEAD,
                () -> {
                    answeredBeforeMeanwhile.set(answered.get());
                    release.complete(null);
                },
                a -> {});
        try (UpstreamTransport.Body body = answer.body()) {
            assertEquals("ok", new String(body.read(100).get(10, TimeUnit.SECONDS), StandardCharsets.US_ASCII));
        }
        assertFalse(answeredBeforeMeanwhile.get(), "meanwhile ran before the answer came");
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(4), "and did not wait for it");

        IllegalStateException thrown = assertThrows(
                IllegalStateException.class,
                () -> client.send(
                        uri,
                        Map.of(),
                        null,
                        HEAD,
                        () -> {
                            throw new IllegalStateException("the caller failed meanwhile");
                        },
                        a -> {}));
        assertEquals("the caller failed meanwhile", thrown.getMessage());
    }

    @Test
    void aBodyNobodyTookHoldsTheConnectionBackThenItsLinesArriveInOrder() throws Exception {
        int count = 4_000_000; // "line <i>\n": about 50 MB, far more than the socket buffers hold
        AtomicLong written = new AtomicLong();
        URI uri = serve((s, out) -> {
            out.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            StringBuilder block = new StringBuilder();
            for (int i = 0; i < count; i++) {
                block.append("line ").append(i).append(i % 3 == 0 ? "\r\n" : "\n");
                if (block.length() > 60_000 || i == count - 1) {
                    byte[] bytes = block.toString().getBytes(StandardCharsets.US_ASCII);
                    out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(bytes);
                    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                    written.addAndGet(bytes.length);
                    block.setLength(0);
                }
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
        UpstreamTransport.Answer answer = client.send(uri, Map.of(), null, HEAD);
        assertEquals(200, answer.status());
        assertEquals("text/event-stream", answer.contentType());
        Thread.sleep(1500); // the body is not taken yet: the client must stop reading, so the server blocks
        assertTrue(
                written.get() < 10L << 20,
                "the server wrote " + written.get() + " bytes before the body was taken: no back-pressure");
        AtomicLong next = new AtomicLong();
        CompletableFuture<String> wrong = new CompletableFuture<>();
        try (UpstreamTransport.Body body = answer.body()) {
            body.lines(1024, bytes -> {
                        String line = new String(bytes, StandardCharsets.UTF_8);
                        if (!line.equals("line " + next.getAndIncrement())) {
                            wrong.complete("line " + (next.get() - 1) + " came as '" + line + "'");
                        }
                    })
                    .get(60, TimeUnit.SECONDS);
        }
        assertFalse(wrong.isDone(), wrong.getNow(""));
        assertEquals(count, next.get());
    }

    @Test
    void linesTakenAtTheHeadComeOnTheTransportsThreadWithTheirEnd() throws Exception {
        URI uri = serve((s, out) -> answer(out, "a\nb\nc\n"));
        List<String> lines = new CopyOnWriteArrayList<>();
        List<Thread> threads = new CopyOnWriteArrayList<>();
        CompletableFuture<CompletableFuture<Void>> taken = new CompletableFuture<>();
        UpstreamTransport.Answer answer = client.send(uri, Map.of(), null, HEAD, () -> {}, a -> {
            threads.add(Thread.currentThread());
            taken.complete(a.body().lines(1024, line -> {
                threads.add(Thread.currentThread());
                lines.add(new String(line, StandardCharsets.UTF_8));
            }));
        });
        try (UpstreamTransport.Body body = answer.body()) {
            taken.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            ExecutionException twice =
                    assertThrows(ExecutionException.class, () -> body.read(100).get(10, TimeUnit.SECONDS));
            assertInstanceOf(IllegalStateException.class, twice.getCause(), "a body can be taken once");
        }
        assertEquals(List.of("a", "b", "c"), lines);
        assertEquals(4, threads.size());
        assertTrue(threads.stream().allMatch(t -> t == threads.getFirst()), "the calls came on different threads");
        assertFalse(threads.contains(Thread.currentThread()), "the head was handled on the caller's thread");
    }

    @Test
    void requestsTakeTheEventLoopsInTurnSoConcurrentAnswersAreNotParsedOnOneThread() throws Exception {
        URI uri = serve((s, out) -> answer(out, "a\n"));
        try (EventLoops loops3 = EventLoops.start(3);
                UpstreamTransport three = UpstreamClient.create(loops3, Duration.ofSeconds(5))) {
            List<Thread> threads = linesReadOn(three, uri, 6);
            assertEquals(6, threads.size(), "every answer's line arrived");
            assertEquals(3, threads.stream().distinct().count(), "three loops parsed the six answers: " + threads);
            assertEquals(threads.subList(0, 3), threads.subList(3, 6), "the loops are taken in turn: " + threads);
        }
    }

    /**
     * A caller started from one of the client's loops (as a response's run is, from the loop its
     * request came in on) sends from that loop and has the answer read there, where the response's
     * events are written; a loop of another instance is no home to it, and it takes the loops in turn.
     */
    @Test
    void aCallerStartedFromALoopHasItsAnswersReadOnThatLoop() throws Exception {
        URI uri = serve((s, out) -> answer(out, "a\n"));
        try (EventLoops loops3 = EventLoops.start(3);
                EventLoops other = EventLoops.start(1);
                UpstreamTransport three = UpstreamClient.create(loops3, Duration.ofSeconds(5))) {
            CompletableFuture<Thread> home = new CompletableFuture<>();
            List<Thread> fromHome = fromACallerStartedOn(loops3, home, () -> linesReadOn(three, uri, 6));
            assertEquals(6, fromHome.size(), "every answer's line arrived");
            assertTrue(
                    fromHome.stream().allMatch(home.join()::equals),
                    "every answer was read on the caller's loop " + home.join() + ": " + fromHome);

            CompletableFuture<Thread> foreign = new CompletableFuture<>();
            List<Thread> fromOther = fromACallerStartedOn(other, foreign, () -> linesReadOn(three, uri, 6));
            assertEquals(3, fromOther.stream().distinct().count(), "the loops are taken in turn: " + fromOther);
        }
    }

    /** Sending waits for the answer's head: on an event loop it would wait for its own loop, so it is refused. */
    @Test
    void aRequestFromAnEventLoopIsRefusedAtOnce() throws Exception {
        URI uri = serve((s, out) -> answer(out, "a\n"));
        CompletableFuture<Throwable> refused = new CompletableFuture<>();
        loops.vertx().getOrCreateContext().runOnContext(v -> {
            try {
                client.send(uri, Map.of(), null, HEAD, () -> {}, a -> {}).body().close();
                refused.complete(null);
            } catch (Exception | Error e) {
                refused.complete(e);
            }
        });
        Throwable e = refused.get(5, TimeUnit.SECONDS);
        assertInstanceOf(IllegalStateException.class, e, "sent from an event loop: " + e);
    }

    /** Runs {@code call} on a virtual thread started from a loop of {@code loops} made its home. */
    private static <T> T fromACallerStartedOn(EventLoops loops, CompletableFuture<Thread> loopThread, Callable<T> call)
            throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        loops.vertx().getOrCreateContext().runOnContext(v -> {
            EventLoops.home(io.vertx.core.Vertx.currentContext()); // as each HTTP server's loop does
            loopThread.complete(Thread.currentThread());
            Thread.ofVirtual().start(() -> {
                try {
                    result.complete(call.call());
                } catch (Exception e) {
                    result.completeExceptionally(e);
                }
            });
        });
        return result.get(30, TimeUnit.SECONDS);
    }

    /** Sends {@code n} requests one after another; the thread each answer's line was read on. */
    private static List<Thread> linesReadOn(UpstreamTransport transport, URI uri, int n) throws Exception {
        List<Thread> threads = new CopyOnWriteArrayList<>();
        for (int i = 0; i < n; i++) {
            CompletableFuture<CompletableFuture<Void>> taken = new CompletableFuture<>();
            UpstreamTransport.Answer answer = transport.send(
                    uri,
                    Map.of(),
                    null,
                    HEAD,
                    () -> {},
                    a -> taken.complete(a.body().lines(1024, line -> threads.add(Thread.currentThread()))));
            taken.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
            answer.body().close();
        }
        return threads;
    }

    /**
     * Serves like {@link #serve}, counting the connections accepted and keeping every request's
     * head; {@code handler} gets the connection's number (from 1).
     */
    private URI serveCounted(AtomicInteger accepted, List<String> heads, CountedHandler handler) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    int n = accepted.incrementAndGet();
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            String head;
                            while ((head = headText(s.getInputStream())) != null) {
                                heads.add(head);
                                handler.handle(n, s, s.getOutputStream());
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
        return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1/x?a=b");
    }

    private interface CountedHandler {
        void handle(int connection, Socket socket, OutputStream out) throws IOException, InterruptedException;
    }

    /** An answer with one more header line, whose body is the connection's number (one digit). */
    private static void answerSaying(OutputStream out, String header, int connection) throws IOException {
        out.write(("HTTP/1.1 200 OK\r\n" + header + "\r\nContent-Length: 1\r\n\r\n" + connection)
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** A request head as text (without its body), or null at the connection's end. */
    private static String headText(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0) {
            head.append((char) b);
            if (head.length() >= 4 && head.substring(head.length() - 4).equals("\r\n\r\n")) {
                return head.toString();
            }
        }
        return null;
    }

    /** Sends a GET and reads its answer whole. */
    private static String fetch(UpstreamTransport transport, URI uri) throws Exception {
        try (UpstreamTransport.Body body =
                transport.send(uri, Map.of(), null, HEAD).body()) {
            return new String(body.read(1000).get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8);
        }
    }

    /**
     * A connection whose exchange ended whole carries the next request from the same loop, so a
     * conversation's turns open one connection; the request names its host, path and query.
     */
    @Test
    void requestsInTurnFromOneLoopShareOneConnection() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        List<String> heads = new CopyOnWriteArrayList<>();
        URI uri = serveCounted(accepted, heads, (n, s, out) -> answer(out, "ok"));
        List<String> answers = fromACallerStartedOn(loops, new CompletableFuture<>(), () -> {
            List<String> got = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                got.add(fetch(client, uri));
            }
            return got;
        });
        assertEquals(List.of("ok", "ok", "ok", "ok", "ok"), answers);
        assertEquals(
                1, accepted.get(), "five requests in turn from one loop opened " + accepted.get() + " connections");
        assertEquals(1, ((UpstreamClient) client).openConnections());
        assertTrue(heads.getFirst().startsWith("GET /v1/x?a=b HTTP/1.1\r\n"), heads.getFirst());
        assertTrue(
                heads.getFirst().toLowerCase(Locale.ROOT).contains("host: 127.0.0.1:" + uri.getPort() + "\r\n"),
                "the Host header names the upstream: " + heads.getFirst());
    }

    /**
     * Requests in flight at once each have a connection of their own (the upstream answers none
     * until it has every request's head, which it could not if two shared one), and the next round
     * takes the same connections again.
     */
    @Test
    void concurrentRequestsTakeAConnectionEachAndTheNextRoundReusesThem() throws Exception {
        int n = 20;
        AtomicInteger accepted = new AtomicInteger();
        AtomicReference<CountDownLatch> heads = new AtomicReference<>(new CountDownLatch(n));
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), (c, s, out) -> {
            CountDownLatch round = heads.get();
            round.countDown();
            if (!round.await(10, TimeUnit.SECONDS)) {
                return; // no answer: the client's request times out and says so
            }
            answer(out, "ok");
        });
        for (int r = 0; r < 2; r++) {
            heads.set(new CountDownLatch(n));
            List<CompletableFuture<String>> answers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                CompletableFuture<String> answer = new CompletableFuture<>();
                answers.add(answer);
                Thread.ofVirtual().start(() -> {
                    try {
                        answer.complete(fetch(client, uri));
                    } catch (Exception e) {
                        answer.completeExceptionally(e);
                    }
                });
            }
            for (CompletableFuture<String> answer : answers) {
                assertEquals("ok", answer.get(20, TimeUnit.SECONDS), "round " + r);
            }
        }
        assertEquals(n, accepted.get(), "the second round opened connections of its own");
        assertEquals(n, ((UpstreamClient) client).openConnections());
    }

    /** Waits up to 5 s for the client to have {@code n} connections open; how many it has then. */
    private static int awaitOpen(UpstreamTransport transport, int n) throws InterruptedException {
        UpstreamClient upstream = (UpstreamClient) transport;
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (upstream.openConnections() != n && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        return upstream.openConnections();
    }

    /**
     * An exchange cut short closes its connection, even when the answer had arrived whole while
     * its body waited untaken (a reset alone does not close that one), and even when the caller
     * gave up before the answer's head.
     */
    @Test
    void anExchangeCutShortLeavesNoConnectionOpen() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), (n, s, out) -> answer(out, "ok"));
        UpstreamTransport.Answer untaken = client.send(uri, Map.of(), null, HEAD);
        Thread.sleep(300); // the whole answer arrives while the body is paused
        untaken.body().close();
        assertEquals(0, awaitOpen(client, 0), "a body closed untaken left its connection open");
        assertEquals("ok", fetch(client, uri));
        assertEquals(1, awaitOpen(client, 1), "a whole exchange keeps its connection");

        server.close();
        URI silent =
                serveCounted(new AtomicInteger(), new CopyOnWriteArrayList<>(), (n, s, out) -> Thread.sleep(60_000));
        try (UpstreamTransport fresh =
                UpstreamClient.create(loops, Duration.ofSeconds(5), Duration.ofSeconds(60), 10)) {
            assertThrows(
                    UpstreamTransport.Timeout.class, () -> fresh.send(silent, Map.of(), null, Duration.ofMillis(200)));
            assertEquals(0, awaitOpen(fresh, 0), "a request given up on left its connection open");
        }
    }

    /** An upstream's {@code Keep-Alive: timeout=N} shortens how long its idle connections are taken. */
    @Test
    void anUpstreamsKeepAliveTimeoutIsHonoured() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        // the socket stays open for as long as the client keeps it
        URI uri = serveCounted(
                accepted, new CopyOnWriteArrayList<>(), (n, s, out) -> answerSaying(out, "Keep-Alive: timeout=1", n));
        List<String> answers = fromACallerStartedOn(loops, new CompletableFuture<>(), () -> {
            String first = fetch(client, uri);
            String soon = fetch(client, uri);
            Thread.sleep(700); // past the second less half a second
            return List.of(first, soon, fetch(client, uri));
        });
        assertEquals(List.of("1", "1", "2"), answers, "kept past the upstream's keep-alive, or not within it");
        assertEquals(-1, UpstreamExchange.keepAliveSeconds(null));
        assertEquals(5, UpstreamExchange.keepAliveSeconds("timeout=5, max=1000"));
        assertEquals(7, UpstreamExchange.keepAliveSeconds("max=3, Timeout = 7"));
        assertEquals(-1, UpstreamExchange.keepAliveSeconds("max=5"));
    }

    /** An IPv6 upstream is reached, and named in the Host header with its brackets (RFC 9112 §3.2). */
    @Test
    void anIpv6UpstreamIsNamedWithItsBrackets() throws Exception {
        InetAddress v6 = InetAddress.getByName("::1");
        try {
            server = new ServerSocket(0, 50, v6);
        } catch (IOException e) {
            Assumptions.abort("no IPv6 loopback here: " + e);
        }
        List<String> heads = new CopyOnWriteArrayList<>();
        Thread.ofVirtual().start(() -> {
            try (Socket s = server.accept()) {
                heads.add(headText(s.getInputStream()));
                answer(s.getOutputStream(), "ok");
                Thread.sleep(1000);
            } catch (IOException | InterruptedException e) {
                // the test reports what it saw
            }
        });
        URI uri = URI.create("http://[::1]:" + server.getLocalPort() + "/v1/x");
        assertEquals("ok", fetch(client, uri));
        assertTrue(
                heads.getFirst().toLowerCase(Locale.ROOT).contains("host: [::1]:" + uri.getPort() + "\r\n"),
                "the Host header: " + heads.getFirst());
    }

    /** An answer that says {@code Connection: close} ends its connection's use, even if the upstream keeps it open. */
    @Test
    void anAnswerSayingConnectionCloseIsNotReused() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        // the socket stays open until the client closes it
        URI uri = serveCounted(
                accepted, new CopyOnWriteArrayList<>(), (n, s, out) -> answerSaying(out, "Connection: close", n));
        List<String> answers = fromACallerStartedOn(
                loops, new CompletableFuture<>(), () -> List.of(fetch(client, uri), fetch(client, uri)));
        assertEquals(List.of("1", "2"), answers, "the second request went on a connection said to close");
        assertEquals(2, accepted.get());
    }

    /** An idle connection the upstream closes is not taken for the next request, which goes out on a new one. */
    @Test
    void anIdleConnectionTheUpstreamClosedIsLeftOut() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), (n, s, out) -> {
            answer(out, String.valueOf(n));
            Thread.sleep(100);
            s.close(); // as an upstream's keep-alive timeout does
        });
        List<String> answers = fromACallerStartedOn(loops, new CompletableFuture<>(), () -> {
            String first = fetch(client, uri);
            awaitOpen(client, 0); // the loop has seen the close
            return List.of(first, fetch(client, uri));
        });
        assertEquals(List.of("1", "2"), answers);
    }

    /** Two requests in turn from one loop (so the second goes out on the first's connection); the second's failure. */
    private ExecutionException secondFetchFails(URI uri) {
        return assertThrows(
                ExecutionException.class,
                () -> fromACallerStartedOn(loops, new CompletableFuture<>(), () -> {
                    fetch(client, uri);
                    return fetch(client, uri);
                }));
    }

    /** Answers each connection's requests with its number, but its second with {@code second}. */
    private static CountedHandler secondOnAConnection(CountedHandler second) {
        Map<Integer, AtomicInteger> requests = new ConcurrentHashMap<>();
        return (n, s, out) -> {
            if (requests.computeIfAbsent(n, k -> new AtomicInteger()).incrementAndGet() == 2) {
                second.handle(n, s, out);
            } else {
                answer(out, String.valueOf(n));
            }
        };
    }

    /**
     * The upstream closes a held connection as the next request goes out on it (its keep-alive
     * timeout crossing the request): the request fails as stale, which the backend sends again at
     * once, and the next request goes out on a new connection.
     */
    @Test
    void aHeldConnectionClosedUnderTheNextRequestFailsAsStale() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), secondOnAConnection((n, s, out) -> {
            s.close(); // no answer: closed as the request arrived
        }));
        List<Object> results = fromACallerStartedOn(loops, new CompletableFuture<>(), () -> {
            List<Object> got = new ArrayList<>();
            got.add(fetch(client, uri));
            try {
                got.add(fetch(client, uri));
            } catch (IOException e) {
                got.add(e);
            }
            got.add(fetch(client, uri));
            return got;
        });
        assertEquals("1", results.get(0));
        assertInstanceOf(UpstreamTransport.Stale.class, results.get(1), "the held connection's close: " + results);
        assertEquals("2", results.get(2));
        assertEquals(2, accepted.get());
    }

    /**
     * After a stale request the loop's other idle connections to that upstream are closed: the
     * request sent again opens a new connection rather than meeting another that the upstream
     * closed too.
     */
    @Test
    void afterAStaleRequestTheLoopsOtherHeldConnectionsAreNotTaken() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        Map<Integer, AtomicInteger> requests = new ConcurrentHashMap<>();
        CountDownLatch both = new CountDownLatch(2);
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), (n, s, out) -> {
            if (requests.computeIfAbsent(n, k -> new AtomicInteger()).incrementAndGet() > 1) {
                s.close(); // every held connection is closed under its next request
                return;
            }
            both.countDown(); // the first two requests are answered together: two connections
            both.await(10, TimeUnit.SECONDS);
            answer(out, String.valueOf(n));
        });
        try (EventLoops one = EventLoops.start(1);
                UpstreamTransport single = UpstreamClient.create(one, Duration.ofSeconds(5))) {
            CompletableFuture<String> a = new CompletableFuture<>();
            CompletableFuture<String> b = new CompletableFuture<>();
            for (CompletableFuture<String> f : List.of(a, b)) {
                Thread.ofVirtual().start(() -> {
                    try {
                        f.complete(fetch(single, uri));
                    } catch (Exception e) {
                        f.completeExceptionally(e);
                    }
                });
            }
            assertEquals(Set.of("1", "2"), Set.of(a.get(10, TimeUnit.SECONDS), b.get(10, TimeUnit.SECONDS)));
            IOException stale = assertThrows(IOException.class, () -> fetch(single, uri));
            assertInstanceOf(UpstreamTransport.Stale.class, stale);
            assertEquals("3", fetch(single, uri), "the other held connection was taken");
        }
        assertEquals(3, accepted.get());
    }

    /** A held connection the client closes under a request (its shutdown) is not stale. */
    @Test
    void aHeldConnectionClosedByTheClientsShutdownIsNotStale() throws Exception {
        CountDownLatch waiting = new CountDownLatch(1);
        URI uri = serveCounted(new AtomicInteger(), new CopyOnWriteArrayList<>(), secondOnAConnection((n, s, out) -> {
            waiting.countDown(); // no answer: the client closes first
            Thread.sleep(10_000);
        }));
        CompletableFuture<Void> closed = new CompletableFuture<>();
        ExecutionException e = assertThrows(
                ExecutionException.class,
                () -> fromACallerStartedOn(loops, new CompletableFuture<>(), () -> {
                    fetch(client, uri);
                    Thread.ofVirtual().start(() -> {
                        try {
                            waiting.await(10, TimeUnit.SECONDS);
                            client.close();
                        } catch (InterruptedException ignored) {
                            // the test ends either way
                        }
                        closed.complete(null);
                    });
                    return fetch(client, uri);
                }));
        closed.get(10, TimeUnit.SECONDS);
        assertInstanceOf(IOException.class, e.getCause(), e.toString());
        assertFalse(e.getCause() instanceof UpstreamTransport.Stale, "the client's own close called stale");
    }

    /** A held connection the upstream closes long after reading the request is not stale: it read it. */
    @Test
    void aHeldConnectionClosedLongAfterItsRequestIsNotStale() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), secondOnAConnection((n, s, out) -> {
            Thread.sleep(1_300); // past the second within which a close crosses the request
            s.close();
        }));
        ExecutionException e = secondFetchFails(uri);
        assertInstanceOf(IOException.class, e.getCause(), e.toString());
        assertFalse(e.getCause() instanceof UpstreamTransport.Stale, "a close long after the request called stale");
    }

    /** A new connection the upstream closes before answering is an error, but not a stale one. */
    @Test
    void aNewConnectionClosedBeforeItsAnswerIsAnErrorNotStale() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), (n, s, out) -> s.close());
        ExecutionException e = assertThrows(
                ExecutionException.class,
                () -> fromACallerStartedOn(loops, new CompletableFuture<>(), () -> fetch(client, uri)));
        assertInstanceOf(IOException.class, e.getCause(), e.toString());
        assertFalse(e.getCause() instanceof UpstreamTransport.Stale, "a new connection called stale: " + e);
        assertEquals(1, accepted.get());
    }

    /**
     * A held connection that breaks after its answer began is an error, but not a stale one: part
     * of an answer came. (A guard: the body's failures do not pass where staleness is decided.)
     */
    @Test
    void aHeldConnectionBrokenAfterItsAnswerBeganIsNotStale() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), secondOnAConnection((n, s, out) -> {
            head(out, 10);
            out.write("abc".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            s.close();
        }));
        ExecutionException e = secondFetchFails(uri);
        for (Throwable t = e; t != null; t = t.getCause()) {
            assertFalse(t instanceof UpstreamTransport.Stale, "a broken answer called stale: " + e);
        }
        assertEquals(1, accepted.get());
    }

    /** A connection idle for longer than the keep-alive time is closed, not taken. */
    @Test
    void aConnectionIdleLongerThanTheKeepAliveIsClosedNotTaken() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        URI uri = serveCounted(accepted, new CopyOnWriteArrayList<>(), (n, s, out) -> answer(out, "" + n));
        try (UpstreamTransport shortLived =
                UpstreamClient.create(loops, Duration.ofSeconds(5), Duration.ofMillis(200), 10)) {
            List<String> answers = fromACallerStartedOn(loops, new CompletableFuture<>(), () -> {
                String first = fetch(shortLived, uri);
                Thread.sleep(400);
                String second = fetch(shortLived, uri);
                String third = fetch(shortLived, uri);
                return List.of(first, second, third);
            });
            assertEquals(List.of("1", "2", "2"), answers, "kept past its keep-alive time, or not kept within it");
            assertEquals(
                    0, awaitOpen(shortLived, 0), "an idle connection past its keep-alive was not closed by the sweep");
        }
        assertEquals(2, accepted.get());
    }

    /** No more connections than allowed: a request over the limit fails at once and says why. */
    @Test
    void aRequestOverTheConnectionLimitFailsAndSaysWhy() throws Exception {
        URI uri = serveCounted(new AtomicInteger(), new CopyOnWriteArrayList<>(), (n, s, out) -> answer(out, "ok"));
        try (UpstreamTransport one = UpstreamClient.create(loops, Duration.ofSeconds(5), Duration.ofSeconds(60), 1)) {
            UpstreamTransport.Answer held = one.send(uri, Map.of(), null, HEAD); // its body is not read yet
            IOException e = assertThrows(IOException.class, () -> one.send(uri, Map.of(), null, HEAD));
            assertEquals(
                    "1 connections to 127.0.0.1:" + uri.getPort()
                            + " are open already: no more requests to it until one ends",
                    e.getMessage());
            try (UpstreamTransport.Body body = held.body()) {
                assertEquals("ok", new String(body.read(100).get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8));
            }
            assertEquals("ok", fetch(one, uri), "the connection, given back, carries the next request");
        }
    }

    @Test
    void aLineSplitAcrossWritesIsOneLineAndALastLineWithoutItsEndCounts() throws Exception {
        byte[] e = "\u00e9".getBytes(StandardCharsets.UTF_8); // two bytes, sent apart
        URI uri = serve((s, out) -> {
            head(out, 12);
            out.write(new byte[] {'d', 'a', ':', e[0]});
            out.flush();
            Thread.sleep(200);
            out.write(new byte[] {e[1], '\r', '\n', '\r', '\n', 'e', 'n', 'd'});
            out.flush();
        });
        List<String> lines = new CopyOnWriteArrayList<>();
        try (UpstreamTransport.Body body =
                client.send(uri, Map.of(), null, HEAD).body()) {
            body.lines(1024, b -> lines.add(new String(b, StandardCharsets.UTF_8)))
                    .get(10, TimeUnit.SECONDS);
        }
        assertEquals(List.of("da:\u00e9", "", "end"), lines);
    }

    @Test
    void aConnectionDroppedMidBodyIsAnErrorAfterTheLinesThatCame() throws Exception {
        URI uri = serve((s, out) -> {
            head(out, 100);
            out.write("first\nsecond\nthi".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            s.close();
        });
        List<String> lines = new CopyOnWriteArrayList<>();
        UpstreamTransport.Body streamed = client.send(uri, Map.of(), null, HEAD).body();
        Thread.sleep(300); // the connection breaks before the body is taken, while it is paused
        ExecutionException e = assertThrows(ExecutionException.class, () -> streamed.lines(
                        1024, b -> lines.add(new String(b, StandardCharsets.UTF_8)))
                .get(10, TimeUnit.SECONDS));
        assertInstanceOf(IOException.class, e.getCause(), "a truncated body must not read as its end");
        assertEquals(List.of("first", "second"), lines, "a line cut off is not a line");

        UpstreamTransport.Body whole = client.send(uri, Map.of(), null, HEAD).body();
        e = assertThrows(ExecutionException.class, () -> whole.read(1000).get(10, TimeUnit.SECONDS));
        assertInstanceOf(IOException.class, e.getCause(), "a truncated body must not read as its end");
    }

    @Test
    void aBodyOrALineOverItsLimitFailsAndDropsTheConnection() throws Exception {
        CompletableFuture<Throwable> dropped = new CompletableFuture<>();
        URI uri = serve((s, out) -> {
            head(out, 1L << 40);
            try {
                while (true) {
                    out.write(new byte[8192]); // no line ends
                    Thread.sleep(1);
                }
            } catch (IOException e) {
                dropped.complete(e);
                throw e;
            }
        });
        UpstreamTransport.Body lines = client.send(uri, Map.of(), null, HEAD).body();
        ExecutionException e = assertThrows(
                ExecutionException.class, () -> lines.lines(100_000, l -> {}).get(10, TimeUnit.SECONDS));
        assertEquals("a line of the answer is over 100000 bytes", e.getCause().getMessage());
        assertInstanceOf(IOException.class, dropped.get(10, TimeUnit.SECONDS), "the connection was not dropped");

        UpstreamTransport.Body whole = client.send(uri, Map.of(), null, HEAD).body();
        e = assertThrows(ExecutionException.class, () -> whole.read(100_000).get(10, TimeUnit.SECONDS));
        assertEquals("the answer is over 100000 bytes", e.getCause().getMessage());
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
                        out.write("data: x\n".getBytes(StandardCharsets.US_ASCII));
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
        CompletableFuture<Void> some = new CompletableFuture<>();
        first.body().lines(1024, line -> some.complete(null));
        some.get(10, TimeUnit.SECONDS);
        first.body().close();
        assertInstanceOf(
                IOException.class,
                firstEnded.get(10, TimeUnit.SECONDS),
                "the endless body's connection was not dropped");
        UpstreamTransport.Answer second = client.send(uri, Map.of(), "x".getBytes(StandardCharsets.US_ASCII), HEAD);
        try (UpstreamTransport.Body body = second.body()) {
            assertEquals("fine", new String(body.read(100).get(10, TimeUnit.SECONDS), StandardCharsets.US_ASCII));
        }
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
