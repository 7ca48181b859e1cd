package dev.tether;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.store.StoreException;
import dev.tether.store.log.LogStreamStore;
import dev.tether.testing.ServerProcess;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Two servers on one data directory: the second is refused at start, and the first keeps it. */
class DataDirLockTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void aSecondServerOnTheSameDataDirIsRefusedAtStart() throws Exception {
        Path data = dir.resolve("data");
        try (ServerProcess first = ServerProcess.start(data)) {
            IllegalStateException refused = assertThrows(
                    IllegalStateException.class, () -> ServerProcess.start(data).close());
            assertTrue(refused.getMessage().contains("is in use by another process"), refused.getMessage());
            assertTrue(first.isAlive(), "the first server runs on");
        }
        try (ServerProcess again = ServerProcess.start(data)) { // the first stopped: free again
            assertTrue(again.isAlive());
        }
    }

    /**
     * The kernel's locks belong to the process: a second open in this JVM that reached the lock
     * file and closed it again would drop the first store's lock, and a server could then start
     * on the log the first one is writing.
     */
    @Test
    @Timeout(120)
    void aSecondOpenRefusedInThisProcessLeavesTheFirstStoresLockHeld() throws Exception {
        Path data = dir.resolve("data");
        try (LogStreamStore first = LogStreamStore.open(data)) {
            StoreException refused = assertThrows(StoreException.class, () -> LogStreamStore.open(data));
            assertTrue(refused.getMessage().contains("is in use"), refused.getMessage());
            IllegalStateException server = assertThrows(
                    IllegalStateException.class, () -> ServerProcess.start(data).close());
            assertTrue(server.getMessage().contains("is in use by another process"), server.getMessage());
            first.sync(); // and the first store goes on
        }
    }
}
