package dev.tether.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.config.ServerConfig;
import dev.tether.testing.TestServer;
import dev.tether.testing.Tmpfs;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Storage failure is a state, not a crash: a full or read-only disk makes appends fail with
 * 503 {@code storage_unavailable}, reads keep working, and writes resume when the disk does.
 *
 * <p>The tmpfs tests need root (mount); the quota test runs everywhere.
 */
class StorageFailureTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(
            value = ServerConfig.StoreKind.class,
            names = {"LOG", "SQLITE"})
    void appendsFailWith503WhenTheStoreQuotaIsFullAndReadsKeepWorking(ServerConfig.StoreKind store) throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.store(store).maxStoreBytes(256L * 1024))) {
            fillUntilRejected(server);
            assertEquals(
                    204,
                    server.send(server.request("/v1/stream/fill").DELETE().build())
                            .statusCode(),
                    "a full store takes a delete, to make room");
            assertEquals(201, server.put("/v1/stream/next", "text/plain").statusCode(), "the room came back");
            assertEquals(
                    204, server.post("/v1/stream/next", "text/plain", "again").statusCode());
            assertEquals(200, server.get("/health").statusCode(), "health recovers with the room");
        }
    }

    @Test
    void appendsFailWith503WhenTheDiskIsFullAndReadsKeepWorking() throws Exception {
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=1m");
                TestServer server = TestServer.start(disk.path(), c -> c)) {
            fillUntilRejected(server);
        }
    }

    /**
     * A disk with open files cannot be remounted read-only, so the server is stopped, the disk
     * made read-only and the server started again, as after an ops remount or a failed disk.
     */
    @Test
    void aReadOnlyDiskServesReadsFailsAppendsWith503AndRecoversWhenWritable() throws Exception {
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=16m")) {
            Path mount = disk.path();
            try (TestServer server = TestServer.start(mount, c -> c)) {
                assertEquals(201, server.put("/v1/stream/ro", "text/plain").statusCode());
                assertEquals(
                        204,
                        server.post("/v1/stream/ro", "text/plain", "before;").statusCode());
            }
            disk.readOnly();
            try (TestServer server = TestServer.start(mount, c -> c)) {
                assertEquals("before;", server.get("/v1/stream/ro").body(), "reads work on a read-only disk");
                assertStorageUnavailable(server.post("/v1/stream/ro", "text/plain", "during;"));
                assertStorageUnavailable(server.put("/v1/stream/other", "text/plain"));
                assertEquals(503, server.get("/health").statusCode(), "health reports the store as unavailable");
                disk.writable();
                assertEquals(
                        204,
                        server.post("/v1/stream/ro", "text/plain", "after;").statusCode(),
                        "appends work again once the disk is writable, without a restart");
                assertEquals(
                        "before;after;", server.get("/v1/stream/ro").body(), "the refused append left nothing behind");
                assertEquals(200, server.get("/health").statusCode(), "health recovers with the store");
            }
            try (TestServer server = TestServer.start(mount, c -> c)) {
                assertEquals("before;after;", server.get("/v1/stream/ro").body(), "the recovered append is durable");
            }
        }
    }

    /**
     * The outside probe's scenario (finding 11): a small disk fills up under concurrent appends
     * and creates, then space is freed. Every answer must match the write's fate, before and after
     * a restart; no stream may be left stuck; writes resume without a restart.
     */
    @Test
    void aFullDiskNeverLiesAboutAWriteAndRecoversWhenSpaceIsFreed() throws Exception {
        try (Tmpfs disk = Tmpfs.mount(dir.resolve("disk"), "size=2m")) {
            Path mount = disk.path();
            // Half the disk: once freed, there is room for the checkpoint to copy everything the
            // WAL holds into the database file (about as much again), so the WAL can be reused.
            Path filler = mount.resolve("filler");
            Files.write(filler, new byte[1024 * 1024]);
            Path data = mount.resolve("data");
            DiskFill fill;
            try (TestServer server = TestServer.start(data, c -> c)) {
                fill = new DiskFill(server, 4);
                fill.untilFull();
                Files.delete(filler);
                fill.assertEveryAnswerMatchesWhatIsStored("while the server that answered still runs");
                fill.assertEveryStreamTakesAnAppendAgain();
                assertEquals(200, server.get("/health").statusCode(), "health recovers without a restart");
            }
            try (TestServer server = TestServer.start(data, c -> c)) {
                fill.on(server).assertEveryAnswerMatchesWhatIsStored("after a restart");
                fill.assertEveryStreamTakesAnAppendAgain();
            }
        }
    }

    /** Appends 8 KiB chunks until the store refuses; checks the refusal and that reads still work. */
    private static void fillUntilRejected(TestServer server) throws Exception {
        assertEquals(201, server.put("/v1/stream/fill", "text/plain").statusCode());
        StringBuilder acknowledged = new StringBuilder();
        HttpResponse<String> last = null;
        for (int i = 0; i < 2000; i++) {
            String chunk = Integer.toString(i % 10).repeat(8192);
            last = server.post("/v1/stream/fill", "text/plain", chunk);
            if (last.statusCode() != 204) {
                break;
            }
            acknowledged.append(chunk);
        }
        assertTrue(acknowledged.length() > 0, "some appends fit before the store filled up");
        assertStorageUnavailable(last);
        HttpResponse<String> read = server.get("/v1/stream/fill");
        assertEquals(200, read.statusCode(), "reads keep working while the store is full");
        assertEquals(acknowledged.length(), read.body().length(), "every acknowledged append is readable");
        assertEquals(acknowledged.toString(), read.body());
        assertEquals(
                200,
                server.send(server.request("/v1/stream/fill")
                                .method("HEAD", HttpRequest.BodyPublishers.noBody())
                                .build())
                        .statusCode());
        assertEquals(503, server.get("/health").statusCode(), "health reports the store as unavailable");
        assertTrue(server.get("/health").body().contains("\"writable\":false"));
    }

    private static void assertStorageUnavailable(HttpResponse<String> res) {
        assertEquals(503, res.statusCode(), "a full or read-only store is a 503, not a crash: " + res.body());
        assertTrue(res.body().contains("\"storage_unavailable\""), "the error code names the cause: " + res.body());
        assertTrue(res.headers().firstValue("Retry-After").isPresent(), "clients are told to retry later");
    }
}
