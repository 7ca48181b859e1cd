package dev.tether.stream;

import java.util.List;
import java.util.Objects;

/**
 * A stream to create (PUT).
 *
 * @param contentType     the content type, or null for "not given" (defaults, or the fork's source's)
 * @param ttlSeconds      sliding TTL or null
 * @param expiresAtMillis absolute expiry or null (never both)
 * @param initialMessages data to write at creation (already split into messages)
 * @param fork            where to fork from, or null
 */
public record CreateRequest(
        String path,
        String contentType,
        Long ttlSeconds,
        Long expiresAtMillis,
        boolean closed,
        List<byte[]> initialMessages,
        Fork fork) {

    public CreateRequest {
        Objects.requireNonNull(path, "path");
        initialMessages = List.copyOf(initialMessages);
        if (ttlSeconds != null && expiresAtMillis != null) {
            throw new IllegalArgumentException("TTL and expiry are exclusive");
        }
    }

    /**
     * @param sourcePath the stream to fork
     * @param offset     the fork point, or null for the source's tail
     * @param subOffset  messages (JSON) or bytes (otherwise) past {@code offset}, or null
     */
    public record Fork(String sourcePath, Offset offset, Long subOffset) {
        public Fork {
            Objects.requireNonNull(sourcePath, "sourcePath");
        }
    }
}
