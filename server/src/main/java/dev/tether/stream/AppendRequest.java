package dev.tether.stream;

import dev.tether.store.StreamRecord.ProducerTuple;
import java.util.List;
import java.util.Objects;

/**
 * An append and/or close (POST).
 *
 * @param contentType the request's content type, or null when the body is empty
 * @param messages    the body split into messages (empty for a close-only request)
 * @param close       whether the request closes the stream (atomically with its data)
 * @param producer    idempotent-producer headers, or null
 * @param streamSeq   the {@code Stream-Seq} writer sequence, or null
 */
public record AppendRequest(
        String path,
        String contentType,
        List<byte[]> messages,
        boolean close,
        ProducerTuple producer,
        String streamSeq) {

    public AppendRequest {
        Objects.requireNonNull(path, "path");
        messages = List.copyOf(messages);
        if (messages.isEmpty() && !close) {
            throw new IllegalArgumentException("an append needs data or a close");
        }
    }

    public boolean hasData() {
        return !messages.isEmpty();
    }
}
