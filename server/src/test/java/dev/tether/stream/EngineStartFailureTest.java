package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tether.store.StoreException;
import dev.tether.store.StreamStore;
import dev.tether.store.log.LogStreamStore;
import dev.tether.testing.ManualClock;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An engine that cannot start closes the store it was given, so the data directory can be opened again. */
class EngineStartFailureTest {
    @TempDir
    Path dir;

    @Test
    void aStoreThatCannotLoadIsClosedAndItsDirectoryReleased() throws Exception {
        LogStreamStore log = LogStreamStore.open(dir);
        StreamStore failingLoad = (StreamStore) Proxy.newProxyInstance(
                StreamStore.class.getClassLoader(), new Class<?>[] {StreamStore.class}, (proxy, method, args) -> {
                    if (method.getName().equals("load")) {
                        throw new StoreException("the metadata cannot be read", null, false);
                    }
                    try {
                        return method.invoke(log, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });

        try {
            StoreException thrown = assertThrows(
                    StoreException.class,
                    () -> new StreamEngine(
                            failingLoad, new ManualClock(1_800_000_000_000L), EngineSettings.defaults()));
            assertEquals("the metadata cannot be read", thrown.getMessage());

            // The log store holds its directory's lock while open: a second open succeeds only if
            // the failed start closed the first.
            try (LogStreamStore again = LogStreamStore.open(dir)) {
                assertEquals("log", again.kind());
            }
        } finally {
            log.close(); // a second close is harmless; without the fix, this is the only one
        }
    }
}
