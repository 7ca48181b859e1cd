package dev.tether.stream;

/**
 * What the engine reports as it writes, for metrics: every method has an empty default, and the
 * engine calls them on its writer thread, so an implementation must return at once.
 */
public interface EngineObserver {
    EngineObserver NONE = new EngineObserver() {};

    /** A batch of {@code commands} was committed in one transaction (group commit). */
    default void committed(int commands) {}

    /** A flush made committed batches durable in {@code nanos}. */
    default void synced(long nanos) {}

    /** Cluster mode: a batch lost a race with another node and is decided again. */
    default void conflicted() {}

    /** Appends became visible (durable): {@code messages} messages of {@code bytes} bytes. */
    default void published(int messages, long bytes) {}
}
