package dev.tether.cli;

import dev.tether.TetherServer;
import dev.tether.config.ServerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code tether aot-train}: the training run of the JDK's AOT cache (JEP 483/514/515). It starts a
 * server in this JVM on a scratch data directory and drives the paths that matter for latency —
 * creates, appends from many connections, catch-up reads, SSE and long-poll tails, JSON streams,
 * deletes — then agent turns through the Responses API ({@link AotResponsesTraining}) for a few
 * seconds in all, then stops. Run under {@code -XX:AOTCacheOutput=FILE}, the JVM
 * writes at exit a cache of the classes it loaded and linked and the method profiles it gathered,
 * so a server started with {@code -XX:AOTCache=FILE} starts faster and reaches full speed sooner.
 * {@code ./tether} runs it after each build.
 */
final class AotTraining {
    private static final int CONCURRENCY = 32;

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    /** The share of the run spent on the streams paths; the rest goes to the Responses API. */
    private static final double STREAMS_SHARE = 0.5;

    private String base;
    private long turns;
    /** Requests answered with anything but 2xx: training on errors would profile the wrong paths. */
    private final java.util.concurrent.atomic.AtomicLong failed = new java.util.concurrent.atomic.AtomicLong();

    private final java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();

    private AotTraining() {}

    static int run(String[] args, PrintStream out, PrintStream err) {
        double seconds = 12;
        if (args.length == 3 && args[1].equals("--seconds")) {
            seconds = Double.parseDouble(args[2]);
        } else if (args.length != 1) {
            err.println("usage: tether aot-train [--seconds S]   (run under -XX:AOTCacheOutput=FILE)");
            return 2;
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("tether-aot-train");
            AotTraining training = new AotTraining();
            try (AotResponsesTraining responses =
                    new AotResponsesTraining(training.http, training.requests, training.failed)) {
                ServerConfig config = ServerConfig.builder()
                        .dataDir(dir)
                        .port(0)
                        .store(ServerConfig.StoreKind.LOG)
                        .upstream(responses.url())
                        .build();
                try (TetherServer server = TetherServer.start(config)) {
                    String base = "http://127.0.0.1:" + server.port();
                    long start = System.nanoTime();
                    training.drive(base, seconds * STREAMS_SHARE);
                    long before = training.requests.get();
                    responses.drive(base, start + (long) (seconds * 1e9));
                    training.turns = training.requests.get() - before;
                }
            }
            if (training.failed.get() > 0) {
                err.println("tether aot-train: " + training.failed.get() + " of " + training.requests.get()
                        + " requests failed");
                return 1;
            }
            out.println("tether aot-train: done (" + training.requests.get() + " requests, " + training.turns
                    + " of them Responses turns)");
            return 0;
        } catch (Exception e) {
            err.println("tether aot-train: " + e);
            return 1;
        } finally {
            deleteQuietly(dir);
        }
    }

    private void drive(String base, double seconds) throws Exception {
        this.base = base;
        long until = System.nanoTime() + (long) (seconds * 1e9);
        List<String> streams = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            streams.add("/v1/stream/train-" + i);
            send("PUT", streams.get(i), "application/octet-stream", new byte[0]);
        }
        send("PUT", "/v1/stream/train-json", "application/json", new byte[0]);
        send("PUT", "/v1/stream/train-live", "text/plain", new byte[0]);
        byte[] body = new byte[256];
        List<CompletableFuture<?>> tails = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            tails.add(drain("/v1/stream/train-live?offset=-1&live=sse"));
        }
        Semaphore inFlight = new Semaphore(CONCURRENCY);
        long n = 0;
        while (System.nanoTime() < until) {
            inFlight.acquire();
            String path = n % 50 == 0 ? "/v1/stream/train-live" : streams.get((int) (n % streams.size()));
            String type = path.endsWith("live") ? "text/plain" : "application/octet-stream";
            sendAsync("POST", path, type, n % 50 == 0 ? ("event " + n + "\n").getBytes() : body)
                    .whenComplete((r, t) -> inFlight.release());
            if (n % 500 == 0) {
                send("POST", "/v1/stream/train-json", "application/json", ("[{\"n\":" + n + "}]").getBytes());
                catchUp(streams.get((int) (n / 500 % streams.size())));
                catchUp("/v1/stream/train-json");
                tails.add(drain("/v1/stream/train-live?offset=now&live=long-poll"));
            }
            n++;
        }
        inFlight.acquire(CONCURRENCY);
        send("POST", "/v1/stream/train-live", "text/plain", "last\n".getBytes());
        for (String s : streams) {
            send("HEAD", s, null, null);
            send("DELETE", s, null, null);
        }
        for (CompletableFuture<?> t : tails) {
            t.cancel(true);
        }
    }

    /** Reads a stream from the start, following Stream-Next-Offset until it is up to date. */
    private void catchUp(String path) throws Exception {
        String offset = "-1";
        for (int i = 0; i < 100; i++) {
            HttpResponse<byte[]> r = http.send(
                    HttpRequest.newBuilder(URI.create(base + path + "?offset=" + offset))
                            .build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() != 200
                    || r.headers().firstValue("Stream-Up-To-Date").isPresent()) {
                return;
            }
            offset = r.headers().firstValue("Stream-Next-Offset").orElse(offset);
        }
    }

    /** A live read whose bytes are read and dropped until it ends or is cancelled. */
    private CompletableFuture<?> drain(String pathAndQuery) {
        return http.sendAsync(
                        HttpRequest.newBuilder(URI.create(base + pathAndQuery)).build(),
                        HttpResponse.BodyHandlers.ofInputStream())
                .thenAcceptAsync(r -> {
                    try (InputStream in = r.body()) {
                        in.transferTo(java.io.OutputStream.nullOutputStream());
                    } catch (IOException e) {
                        // cancelled or ended by the server: either is fine for training
                    }
                });
    }

    private void send(String method, String path, String type, byte[] body) throws Exception {
        sendAsync(method, path, type, body).get(30, TimeUnit.SECONDS);
    }

    private CompletableFuture<HttpResponse<Void>> sendAsync(String method, String path, String type, byte[] body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .method(
                        method,
                        body == null
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofByteArray(body));
        if (type != null) {
            b.header("Content-Type", type);
        }
        return http.sendAsync(b.build(), HttpResponse.BodyHandlers.discarding()).whenComplete((r, t) -> {
            requests.incrementAndGet();
            if (t != null || r.statusCode() / 100 != 2) {
                failed.incrementAndGet();
            }
        });
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a scratch directory under the system temp dir: left for the OS to clean
        }
    }
}
