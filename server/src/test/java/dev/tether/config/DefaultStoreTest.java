package dev.tether.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tether.config.ServerConfig.StoreKind;
import dev.tether.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log store is the default, but a data directory written by an earlier release (SQLite, no
 * log) keeps being served from SQLite: upgrading never hides a user's data behind an empty log.
 */
class DefaultStoreTest {
    @TempDir
    Path dir;

    @Test
    void anEmptyDataDirGetsTheLogStore() {
        assertEquals(StoreKind.LOG, ServerConfig.builder().dataDir(dir).build().store());
    }

    @Test
    void aDataDirHoldingOnlyASqliteStoreStaysOnSqliteAndItsDataIsServed() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.store(StoreKind.SQLITE))) {
            assertEquals(201, server.put("/v1/stream/old", "text/plain").statusCode());
            assertEquals(
                    204, server.post("/v1/stream/old", "text/plain", "kept;").statusCode());
        }
        assertEquals(
                StoreKind.SQLITE, ServerConfig.builder().dataDir(dir).build().store());
        try (TestServer server = TestServer.start(dir, c -> c)) {
            assertEquals("kept;", server.get("/v1/stream/old").body(), "the default found the SQLite data");
        }
        Files.createDirectories(dir.resolve("log"));
        assertEquals(StoreKind.LOG, ServerConfig.builder().dataDir(dir).build().store(), "a log wins once present");
    }

    @Test
    void anExplicitStoreIsKept() {
        assertEquals(
                StoreKind.MEMORY,
                ServerConfig.builder()
                        .dataDir(dir)
                        .store(StoreKind.MEMORY)
                        .build()
                        .store());
    }
}
