package dev.tether.http;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Strict UTF-8, the one definition every input check uses (stream paths, JSON bodies, WebSocket
 * messages and close reasons): overlong forms, encoded surrogates and truncated sequences are
 * errors, never U+FFFD.
 *
 * <p>Stateless; each call gets its own decoder (decoders are not thread-safe).
 */
final class Utf8 {
    private Utf8() {}

    static CharsetDecoder strictDecoder() {
        return StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    /** The text of {@code bytes}, or {@link CharacterCodingException} when they are not UTF-8. */
    static String decode(ByteBuffer bytes) throws CharacterCodingException {
        return strictDecoder().decode(bytes).toString();
    }

    static boolean valid(ByteBuffer bytes) {
        try {
            strictDecoder().decode(bytes);
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
