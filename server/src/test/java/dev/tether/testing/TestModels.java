package dev.tether.testing;

import dev.tether.inference.embedded.gguf.DemoModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Random-weight models generated once per test JVM (the tiny one takes milliseconds). */
public final class TestModels {
    private static Path dir;

    private TestModels() {}

    /** The tiny model (vocab 512, 2 layers, dim 64) generated with {@code seed}. */
    public static synchronized Path tiny(long seed) {
        try {
            if (dir == null) {
                dir = Files.createTempDirectory("tether-models-");
                dir.toFile().deleteOnExit();
            }
            Path file = dir.resolve("tiny-" + seed + ".gguf");
            if (!Files.exists(file)) {
                DemoModel.generate(file, DemoModel.Size.TINY, seed);
                file.toFile().deleteOnExit();
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path tiny() {
        return tiny(42);
    }
}
