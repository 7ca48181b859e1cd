package dev.tether.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP event loops leave a core to the writer thread, but there is always one. */
class DefaultEventLoopsTest {
    @TempDir
    Path dir;

    @Test
    void oneLoopPerCoreLessOneAndNeverNone() {
        assertEquals(1, ServerConfig.defaultEventLoops(1));
        assertEquals(1, ServerConfig.defaultEventLoops(2));
        assertEquals(3, ServerConfig.defaultEventLoops(4));
        assertEquals(15, ServerConfig.defaultEventLoops(16));
    }

    @Test
    void theBuilderUsesItForThisMachineAndTheFlagOverridesIt() {
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(
                ServerConfig.defaultEventLoops(cores),
                ServerConfig.builder().dataDir(dir).build().eventLoops());
        assertEquals(
                4, ServerConfig.builder().dataDir(dir).eventLoops(4).build().eventLoops());
    }
}
