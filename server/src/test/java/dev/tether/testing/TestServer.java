package dev.tether.testing;

import dev.tether.TetherServer;
import dev.tether.config.ServerConfig;
import dev.tether.stream.StreamEngine;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

/** An in-process server on a free loopback port, plus a small HTTP client for tests. */
public final class TestServer implements AutoCloseable {
    private final TetherServer server;
    private final HttpClient client =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TestServer(TetherServer server) {
        this.server = server;
    }

    public static TestServer start(Path dataDir, UnaryOperator<ServerConfig.Builder> customize) throws Exception {
        ServerConfig config = customize
                .apply(ServerConfig.builder()
                        .port(0)
                        .dataDir(dataDir)
                        .longPollTimeout(Duration.ofMillis(500))
                        .eventLoops(2))
                .build();
        return new TestServer(TetherServer.start(config));
    }

    public int port() {
        return server.port();
    }

    /** The server's stream engine, for tests that act between its steps. */
    public StreamEngine streams() {
        return server.streams();
    }

    public URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + port() + pathAndQuery);
    }

    public HttpRequest.Builder request(String pathAndQuery) {
        return HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(10));
    }

    public HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
        return client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    public HttpResponse<String> put(String path, String contentType) throws IOException, InterruptedException {
        return send(request(path)
                .header("Content-Type", contentType)
                .PUT(HttpRequest.BodyPublishers.noBody())
                .build());
    }

    public HttpResponse<String> post(String path, String contentType, String body)
            throws IOException, InterruptedException {
        return send(request(path)
                .header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build());
    }

    public HttpResponse<String> get(String pathAndQuery) throws IOException, InterruptedException {
        return send(request(pathAndQuery).GET().build());
    }

    public HttpClient client() {
        return client;
    }

    @Override
    public void close() {
        client.close();
        server.close();
    }
}
