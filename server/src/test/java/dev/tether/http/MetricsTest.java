package dev.tether.http;

import static dev.tether.testing.Scrapes.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.stream.EngineSettings;
import dev.tether.testing.AuthFixture;
import dev.tether.testing.Scrapes;
import dev.tether.testing.ScriptedUpstream;
import dev.tether.testing.TestServer;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code GET /metrics}: Prometheus text with what operators watch, behind a capability when auth is on. */
class MetricsTest {
    private static final int CHUNK = 4096;
    private static final int PAGE_BYTES = CHUNK * 3 * Integer.BYTES;

    @TempDir
    Path dir;

    @Test
    void responsesTokensErrorsAndConnectionsAreCounted() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.start();
                TestServer server = TestServer.start(dir, c -> c.upstream(URI.create(up.url())))) {
            up.then(new ScriptedUpstream.Text(0, java.util.List.of("a", "b", "c"), 30, 12));
            assertEquals(
                    200,
                    server.post("/v1/responses", "application/json", "{\"model\":\"m\",\"input\":\"hi\"}")
                            .statusCode());
            assertEquals(404, server.get("/v1/stream/missing").statusCode());
            assertEquals(201, server.put("/v1/stream/m", "text/plain").statusCode());
            assertEquals(204, server.post("/v1/stream/m", "text/plain", "12345").statusCode());
            HttpResponse<String> scrape = server.get("/metrics");
            assertEquals(200, scrape.statusCode());
            assertTrue(scrape.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            String m = scrape.body();
            assertEquals(1, sample(m, "tether_responses_total{status=\"completed\"}"), m);
            assertEquals(1, sample(m, "tether_response_ttft_seconds_count"), "one first output");
            assertEquals(2, sample(m, "tether_response_token_latency_seconds_count"), "two gaps between three outputs");
            assertEquals(12, sample(m, "tether_model_input_tokens_total{kind=\"cached\"}"));
            assertEquals(18, sample(m, "tether_model_input_tokens_total{kind=\"prefilled\"}"));
            assertEquals(1, sample(m, "tether_http_errors_total{condition=\"not_found\"}"));
            assertTrue(sample(m, "tether_connections{kind=\"http\"}") >= 1, "this scrape's own connection");
            assertEquals(0, sample(m, "tether_connections{kind=\"sse\"}"));
            assertEquals(
                    1,
                    sample(m, "tether_connections{kind=\"upstream\"}"),
                    "the turn's upstream connection, held for the next");
            assertTrue(
                    sample(m, "tether_upstream_latency_seconds_count{replica=\"" + up.url() + "\"}") >= 1,
                    "upstream latency per replica");
            assertTrue(m.contains("tether_response_ttft_seconds_bucket{le="), "TTFT is a histogram");
            assertTrue(m.contains("jvm_memory_used_bytes"), "JVM metrics too");
            assertTrue(sample(m, "tether_stream_appends_total") >= 1, "appends (the response's events count too)");
            assertTrue(sample(m, "tether_stream_append_bytes_total") >= 5);
            assertTrue(sample(m, "tether_store_fsync_seconds_count") >= 1, "every acknowledged write was flushed");
            assertTrue(m.contains("tether_store_fsync_seconds_bucket{le="), "fsync latency is a histogram");
            assertTrue(sample(m, "tether_store_batch_commands_count") >= 1);
        }
    }

    /**
     * What the store holds on disk against its cap, its segments and its index chunk file, how long
     * it took to open, and the memory budget: the figures an operator needs before a 503 says full.
     */
    @Test
    void theStoreAndTheMemoryBudgetAreGauged() throws Exception {
        long cap = 64L << 20;
        long budget = 32L << 20;
        try (TestServer server = TestServer.start(dir, c -> c.maxStoreBytes(cap).maxMemoryBytes(budget))) {
            String m = server.get("/metrics").body();
            assertEquals(cap, sample(m, "tether_store_max_bytes"), m);
            assertEquals(budget, sample(m, "tether_memory_limit_bytes"));
            assertTrue(sample(m, "tether_store_open_seconds") > 0, "the log's open was timed");
            assertEquals(1, sample(m, "tether_store_segments"), "a new log has one segment");
            assertEquals(0, sample(m, "tether_store_index_file_bytes"), "no index chunk moved off the heap yet");
            assertTrue(sample(m, "tether_memory_bytes{kind=\"pinned\"}") >= 0, m);
            assertTrue(sample(m, "tether_memory_bytes{kind=\"cached\"}") >= 0, m);
            double before = sample(m, "tether_store_bytes");
            assertTrue(before >= 0, m);

            // One POST of a JSON array: a full index chunk of messages (StreamIndex.CHUNK), which
            // goes to the chunk file, in a page of its own (ChunkFile.PAGE_BYTES).
            assertEquals(201, server.put("/v1/stream/g", "application/json").statusCode());
            String body = "[" + String.join(",", java.util.Collections.nCopies(CHUNK, "\"0123456789\"")) + "]";
            assertEquals(
                    204, server.post("/v1/stream/g", "application/json", body).statusCode());
            // Within the second a message stays in its window it is cached. A few tries: a scrape
            // more than a second late (a stalled machine) misses it.
            double cached = 0;
            for (int i = 0; i < 5 && cached <= 0; i++) {
                assertEquals(
                        204,
                        server.post("/v1/stream/g", "application/json", "[1]").statusCode());
                m = server.get("/metrics").body();
                cached = sample(m, "tether_memory_bytes{kind=\"cached\"}");
            }
            assertTrue(cached > 0, m);
            // Nothing is pinned at rest. A scrape right after a 204 may still count the last body
            // (1 byte, seen once in seven runs), so the test waits for rest.
            for (int i = 0; i < 50 && sample(m, "tether_memory_bytes{kind=\"pinned\"}") != 0; i++) {
                Thread.sleep(20);
                m = server.get("/metrics").body();
            }
            assertEquals(0, sample(m, "tether_memory_bytes{kind=\"pinned\"}"), m);
            // The log recounts what it holds once a second: the messages' 12 bytes each in the
            // segment and an index file entry each (SegmentIndex.ENTRY), neither alone.
            Scrapes.await(server, "tether_store_bytes", before + CHUNK * (12 + 28));
            m = server.get("/metrics").body();
            assertTrue(
                    sample(m, "tether_store_bytes") < before + (1 << 20), "not the files' preallocated length: " + m);
            assertEquals(PAGE_BYTES, sample(m, "tether_store_index_file_bytes"), m);
        }
    }

    @Test
    void aStoreWithoutFilesHasNoSizeGauge() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.store(dev.tether.config.ServerConfig.StoreKind.MEMORY))) {
            String m = server.get("/metrics").body();
            assertFalse(m.contains("\ntether_store_bytes "), "the memory store keeps no files");
            assertFalse(m.contains("\ntether_store_segments "), "nor segments");
            assertFalse(m.contains("\ntether_store_max_bytes "), "nor a cap");
            assertFalse(m.contains("\ntether_store_index_file_bytes "), "nor an index file");
            assertTrue(sample(m, "tether_memory_limit_bytes") > 0, m);
        }
    }

    @Test
    void sqliteCountsItsDatabaseFile() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.store(dev.tether.config.ServerConfig.StoreKind.SQLITE))) {
            String m = server.get("/metrics").body();
            assertTrue(sample(m, "tether_store_bytes") > 0, "its schema's pages, at least: " + m);
            assertFalse(m.contains("\ntether_store_segments "), "segments are the log's");
        }
    }

    @Test
    void theBatchSizeHistogramEndsAtTheWritersBatchLimit() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c)) {
            assertEquals(201, server.put("/v1/stream/m", "text/plain").statusCode());
            assertEquals(204, server.post("/v1/stream/m", "text/plain", "12345").statusCode());
            List<String> bounds = server.get("/metrics")
                    .body()
                    .lines()
                    .filter(l -> l.startsWith("tether_store_batch_commands_bucket{le=\""))
                    .map(l -> l.substring(l.indexOf('"') + 1, l.indexOf('"', l.indexOf('"') + 1)))
                    .toList();
            String seen = bounds.size() + " buckets, the last three "
                    + bounds.subList(Math.max(0, bounds.size() - 3), bounds.size());
            assertEquals("+Inf", bounds.getLast(), seen);
            List<String> finite = bounds.subList(0, bounds.size() - 1);
            // Unbounded, Micrometer gave it a bucket for every size up to about Long.MAX_VALUE: 276 lines.
            assertEquals((double) EngineSettings.DEFAULT_MAX_BATCH, Double.parseDouble(finite.getLast()), seen);
            assertEquals(1.0, Double.parseDouble(finite.getFirst()), seen);
            assertTrue(bounds.size() < 64, seen);
        }
    }

    @Test
    void withAuthTheMetricsNeedTheirCapabilityAndCountAuthFailures() throws Exception {
        AuthFixture auth = AuthFixture.create(dir.resolve("auth"));
        try (TestServer server = TestServer.start(dir.resolve("data"), c -> c.authConfig(auth.config()))) {
            assertEquals(401, server.get("/metrics").statusCode());
            HttpResponse<String> reader = server.send(server.request("/metrics")
                    .header("Authorization", "Bearer " + AuthFixture.READER)
                    .build());
            assertEquals(403, reader.statusCode(), "the reader key has no 'read' on 'metrics'");
            HttpResponse<String> backend = server.send(server.request("/metrics")
                    .header("Authorization", "Bearer " + AuthFixture.BACKEND)
                    .build());
            assertEquals(200, backend.statusCode());
            assertEquals(1, sample(backend.body(), "tether_auth_failures_total{reason=\"missing_credentials\"}"));
            assertEquals(1, sample(backend.body(), "tether_auth_failures_total{reason=\"forbidden\"}"));
        }
    }
}
