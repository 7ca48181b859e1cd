package dev.tether.inference.embedded;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How the embedded engine runs.
 *
 * @param model             the GGUF file
 * @param demo              true when the model is Tether's generated random-weight demo model: a
 *                          file that does not load is then regenerated instead of failing start-up
 * @param kvBudgetBytes     bytes of KV cache for all resident sessions (0: {@link #defaultKvBudget()})
 * @param sessionContext    most tokens one session may hold (0: the model's training context, at most 8192)
 * @param sequences         most sessions resident at once
 * @param batchSize         most tokens per model step, shared fairly by the running turns
 * @param threads           CPU threads for the model
 * @param spillDir          where evicted sessions of stored chains go, or null to never spill
 * @param ephemeralTtl      how long an idle {@code store:false} session keeps its KV state
 * @param defaultMaxOutput  output limit for requests that set none (0: the rest of the context)
 * @param maxWaitingTurns   turns that may wait for the engine; more are refused as overloaded
 * @param kvDiskBudgetBytes bytes the spill directory may hold; the least recently used files go
 *                          first (0: {@link #defaultKvDiskBudget}; {@link Long#MAX_VALUE}: no limit)
 * @param spillTtl          how long an unused spill file is kept, or null to keep it until the
 *                          budget needs the room
 * @param groups            independent llama.cpp contexts the KV budget and the sessions are
 *                          split into (a session's decode attends over its group's cells only)
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
        int defaultMaxOutput,
        int maxWaitingTurns,
        long kvDiskBudgetBytes,
        Duration spillTtl,
        int groups) {

    /** The default of {@link #maxWaitingTurns}: the Responses layer's own in-flight limit. */
    public static final int DEFAULT_MAX_WAITING_TURNS = 256;

    public EmbeddedSettings {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(ephemeralTtl, "ephemeralTtl");
        if (kvBudgetBytes < 0
                || sessionContext < 0
                || sequences < 1
                || batchSize < 1
                || threads < 1
                || maxWaitingTurns < 1
                || kvDiskBudgetBytes < 0) {
            throw new IllegalArgumentException("invalid embedded engine settings");
        }
        if (groups < 1 || groups > sequences) {
            throw new IllegalArgumentException(
                    "the engine groups must be between 1 and the resident sessions (" + sequences + ")");
        }
        if (spillTtl != null && (spillTtl.isNegative() || spillTtl.isZero())) {
            throw new IllegalArgumentException("the spill TTL must be positive");
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
                demo ? 128 : 0,
                DEFAULT_MAX_WAITING_TURNS,
                0,
                null,
                1);
    }

    /** {@code --engine-groups}: see {@link #groups}. */
    public EmbeddedSettings withGroups(int groups) {
        return new Builder(this).groups(groups).build();
    }

    public EmbeddedSettings withKvBudget(long bytes) {
        return new Builder(this).kvBudget(bytes).build();
    }

    public EmbeddedSettings withSessionContext(int tokens) {
        return new Builder(this).sessionContext(tokens).build();
    }

    /** {@code --kv-disk-budget}: see {@link #kvDiskBudgetBytes}. */
    public EmbeddedSettings withKvDiskBudget(long bytes) {
        return new Builder(this).kvDiskBudget(bytes).build();
    }

    /** {@code --response-ttl}: see {@link #spillTtl}. */
    public EmbeddedSettings withSpillTtl(Duration ttl) {
        return new Builder(this).spillTtl(ttl).build();
    }

    public EmbeddedSettings withMaxWaitingTurns(int turns) {
        return new Builder(this).maxWaitingTurns(turns).build();
    }

    /** A sixteenth of physical memory, between 256 MiB and 2 GiB. */
    public static long defaultKvBudget() {
        long ram = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
        return Math.clamp(ram / 16, 256L << 20, 2L << 30);
    }

    /**
     * Eight times the resident KV budget, but at most a quarter of the space free in
     * {@code dir}'s file system now (and at least 64 MiB): spilled sessions are a cache, and must
     * not be what fills the disk the stream store needs.
     */
    public static long defaultKvDiskBudget(long kvBudgetBytes, Path dir) {
        long free;
        try {
            free = Files.getFileStore(
                            Files.exists(dir) ? dir : dir.toAbsolutePath().getParent())
                    .getUsableSpace();
        } catch (IOException | RuntimeException e) {
            free = Long.MAX_VALUE;
        }
        return Math.max(64L << 20, Math.min(8 * kvBudgetBytes, free / 4));
    }

    /** Copies settings with one field changed (the record has too many for a constructor call). */
    private static final class Builder {
        private final EmbeddedSettings s;
        private long kvBudget;
        private int sessionContext;
        private int maxWaitingTurns;
        private long kvDiskBudget;
        private Duration spillTtl;
        private int groups;

        Builder(EmbeddedSettings s) {
            this.s = s;
            this.kvBudget = s.kvBudgetBytes;
            this.sessionContext = s.sessionContext;
            this.maxWaitingTurns = s.maxWaitingTurns;
            this.kvDiskBudget = s.kvDiskBudgetBytes;
            this.spillTtl = s.spillTtl;
            this.groups = s.groups;
        }

        Builder groups(int v) {
            groups = v;
            return this;
        }

        Builder kvBudget(long v) {
            kvBudget = v;
            return this;
        }

        Builder sessionContext(int v) {
            sessionContext = v;
            return this;
        }

        Builder maxWaitingTurns(int v) {
            maxWaitingTurns = v;
            return this;
        }

        Builder kvDiskBudget(long v) {
            kvDiskBudget = v;
            return this;
        }

        Builder spillTtl(Duration v) {
            spillTtl = v;
            return this;
        }

        EmbeddedSettings build() {
            return new EmbeddedSettings(
                    s.model,
                    s.demo,
                    kvBudget,
                    sessionContext,
                    s.sequences,
                    s.batchSize,
                    s.threads,
                    s.spillDir,
                    s.ephemeralTtl,
                    s.defaultMaxOutput,
                    maxWaitingTurns,
                    kvDiskBudget,
                    spillTtl,
                    groups);
        }
    }
}
