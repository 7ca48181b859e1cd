package dev.tether.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.tether.errors.Refusal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * JSON mode (Durable Streams §9.1): validates a body and splits a top-level array into its
 * elements, exactly one level deep. Each message keeps the client's bytes (no re-encoding),
 * so what a reader gets is byte-for-byte what the writer sent.
 */
final class JsonMessages {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private JsonMessages() {}

    /**
     * @param allowEmptyArray PUT may create an empty stream with {@code []}; POST may not
     */
    static List<byte[]> split(byte[] body, boolean allowEmptyArray) {
        requireUtf8(body);
        try (JsonParser p = FACTORY.createParser(body)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw Refusal.invalid("the body is not JSON: it is empty");
            }
            List<byte[]> out = new ArrayList<>();
            if (first == JsonToken.START_ARRAY) {
                JsonToken t;
                while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                    int start = (int) p.currentTokenLocation().getByteOffset();
                    skipValue(p, t);
                    int end = (int) p.currentLocation().getByteOffset();
                    out.add(Arrays.copyOfRange(body, start, end));
                }
                if (out.isEmpty() && !allowEmptyArray) {
                    throw Refusal.invalid("an empty JSON array appends nothing; send at least one value");
                }
            } else {
                int start = (int) p.currentTokenLocation().getByteOffset();
                skipValue(p, first);
                out.add(Arrays.copyOfRange(
                        body, start, (int) p.currentLocation().getByteOffset()));
            }
            if (p.nextToken() != null) {
                throw Refusal.invalid("the body has data after its JSON value");
            }
            return out;
        } catch (IOException e) {
            throw Refusal.invalid("the body is not valid JSON: "
                    + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                            ? dev.tether.responses.Json.describe(j)
                            : e.getMessage()));
        }
    }

    /**
     * RFC 8259 §8.1: JSON exchanged between systems is UTF-8, without a byte-order mark. Checked
     * before parsing because Jackson guesses UTF-16 or UTF-32 from NUL bytes or a BOM (its byte
     * offsets are then not byte offsets: a UTF-16 body gave a 500), and passes overlong and
     * surrogate UTF-8 sequences through into the stored bytes (finding 22 of the outside probe).
     * Decodes in fixed-size slices, so a large body costs no large buffer.
     */
    private static void requireUtf8(byte[] body) {
        for (byte b : body) {
            if (b == 0) {
                throw Refusal.invalid("the body is not UTF-8: it has NUL bytes, as UTF-16 and UTF-32 text does;"
                        + " JSON must be sent as UTF-8");
            }
        }
        if (body.length >= 3 && (body[0] & 0xff) == 0xEF && (body[1] & 0xff) == 0xBB && (body[2] & 0xff) == 0xBF) {
            throw Refusal.invalid("the body starts with a byte-order mark; send UTF-8 JSON without one");
        }
        CharsetDecoder utf8 = Utf8.strictDecoder();
        ByteBuffer in = ByteBuffer.wrap(body);
        CharBuffer slice = CharBuffer.allocate(4096);
        CoderResult result;
        do {
            slice.clear();
            result = utf8.decode(in, slice, true);
            if (result.isError()) {
                throw Refusal.invalid("the body is not valid UTF-8 at byte " + in.position()
                        + " (overlong, surrogate or truncated sequence); JSON must be sent as UTF-8");
            }
        } while (result.isOverflow());
    }

    /** Moves past the value that starts at {@code t}; strings are decoded lazily, so finish them. */
    private static void skipValue(JsonParser p, JsonToken t) throws IOException {
        if (t.isStructStart()) {
            p.skipChildren();
        } else {
            p.finishToken();
        }
    }
}
