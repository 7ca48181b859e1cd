package dev.tether.inference.upstream;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How Tether talks to OpenAI-compatible upstreams.
 *
 * @param replicas         base URLs ({@code http://host:port/v1}); requests go to {@code <base>/chat/completions}
 * @param connectTimeout   to open a connection
 * @param firstByteTimeout until the response headers arrive (prefill of a long prompt counts here)
 * @param idleTimeout      the longest silence allowed between two chunks
 * @param apiKey           sent as {@code Authorization: Bearer}, or null
 * @param model            the model name sent upstream instead of the client's, or null to pass it through
 */
public record UpstreamSettings(
        List<URI> replicas,
        Duration connectTimeout,
        Duration firstByteTimeout,
        Duration idleTimeout,
        String apiKey,
        String model) {

    public UpstreamSettings {
        replicas = List.copyOf(replicas);
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(firstByteTimeout, "firstByteTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (replicas.isEmpty()) {
            throw new IllegalArgumentException("at least one upstream URL is needed");
        }
    }
}
