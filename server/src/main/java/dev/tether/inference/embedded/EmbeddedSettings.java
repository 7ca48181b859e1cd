package dev.tether.inference.embedded;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How the embedded engine runs.
 *
 * @param model            the GGUF file
 * @param demo             true when the model is Tether's generated random-weight demo model
 * @param kvBudgetBytes    bytes of KV cache for all resident sessions (0: {@link #defaultKvBudget()})
 * @param sessionContext   most tokens one session may hold (0: the model's training context, at most 8192)
 * @param sequences        most sessions resident at once
 * @param batchSize        most tokens per model step, shared fairly by the running turns
 * @param threads          CPU threads for the model
 * @param spillDir         where evicted sessions of stored chains go, or null to never spill
 * @param ephemeralTtl     how long an idle {@code store:false} session keeps its KV state
 * @param defaultMaxOutput output limit for requests that set none (0: the rest of the context)
 */
public record EmbeddedSettings(
        Path model,
        boolean demo,
        long kvBudgetBytes,
        int sessionContext,
        int sequences,
        int batchSize,
        int threads,
        Path spillDir,
        Duration ephemeralTtl,
        int defaultMaxOutput) {

    public EmbeddedSettings {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(ephemeralTtl, "ephemeralTtl");
        if (kvBudgetBytes < 0 || sessionContext < 0 || sequences < 1 || batchSize < 1 || threads < 1) {
            throw new IllegalArgumentException("invalid embedded engine settings");
        }
    }

    /** Settings for {@code model} with the defaults: spilling to {@code spillDir} (may be null). */
    public static EmbeddedSettings of(Path model, boolean demo, Path spillDir) {
        return new EmbeddedSettings(
                model,
                demo,
                0,
                0,
                8,
                256,
                Runtime.getRuntime().availableProcessors(),
                spillDir,
                Duration.ofMinutes(10),
                demo ? 128 : 0);
    }

    public EmbeddedSettings withKvBudget(long bytes) {
        return new EmbeddedSettings(
                model,
                demo,
                bytes,
                sessionContext,
                sequences,
                batchSize,
                threads,
                spillDir,
                ephemeralTtl,
                defaultMaxOutput);
    }

    public EmbeddedSettings withSessionContext(int tokens) {
        return new EmbeddedSettings(
                model,
                demo,
                kvBudgetBytes,
                tokens,
                sequences,
                batchSize,
                threads,
                spillDir,
                ephemeralTtl,
                defaultMaxOutput);
    }

    /** A sixteenth of physical memory, between 256 MiB and 2 GiB. */
    public static long defaultKvBudget() {
        long ram = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
        return Math.clamp(ram / 16, 256L << 20, 2L << 30);
    }
}
