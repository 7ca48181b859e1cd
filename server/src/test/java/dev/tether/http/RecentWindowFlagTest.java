package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tether.testing.TestServer;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --recent-window} reaches the engine: after 40 appends of 256 B to one stream, {@code
 * /health} counts that stream's newest 8 KiB in memory by default and its newest 1 KiB with the flag
 * at 1KiB, and the stream still reads back whole.
 */
class RecentWindowFlagTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static long cachedAfterAppends(Path dataDir, UnaryOperator<dev.tether.config.ServerConfig.Builder> flags)
            throws Exception {
        try (TestServer server = TestServer.start(dataDir, flags)) {
            assertEquals(201, server.put("/v1/stream/w", "text/plain").statusCode());
            StringBuilder all = new StringBuilder();
            for (int i = 0; i < 40; i++) {
                String body = Integer.toString(i % 10).repeat(256);
                all.append(body);
                assertEquals(
                        204, server.post("/v1/stream/w", "text/plain", body).statusCode());
            }
            assertEquals(all.toString(), server.get("/v1/stream/w?offset=-1").body(), "the stream reads back whole");
            return JSON.readTree(server.get("/health").body())
                    .path("memory")
                    .path("cached")
                    .asLong();
        }
    }

    @Test
    void theWindowIsEightKibByDefaultAndWhatTheFlagSays() throws Exception {
        assertEquals(8 * 1024, cachedAfterAppends(dir.resolve("default"), c -> c));
        assertEquals(1024, cachedAfterAppends(dir.resolve("small"), c -> c.recentWindowBytes(1024)));
    }
}
