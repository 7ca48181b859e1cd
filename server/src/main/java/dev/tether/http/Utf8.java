package dev.tether.http;

import java.io.ByteArrayOutputStream;
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

    /**
     * Decodes {@code %XX} escapes once, reading each run of escapes as UTF-8; other characters
     * ({@code +} included) stay as they are.
     *
     * @throws IllegalArgumentException an escape is not {@code %} and two hex digits
     * @throws CharacterCodingException the escaped bytes are not UTF-8
     */
    static String percentDecode(String raw) throws CharacterCodingException {
        StringBuilder out = new StringBuilder(raw.length());
        int i = 0;
        while (i < raw.length()) {
            if (raw.charAt(i) != '%') {
                out.append(raw.charAt(i++));
                continue;
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (; i < raw.length() && raw.charAt(i) == '%'; i += 3) {
                int hi = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int lo = hi < 0 ? -1 : Character.digit(raw.charAt(i + 2), 16);
                if (lo < 0) {
                    throw new IllegalArgumentException("not a percent-escape at " + i);
                }
                bytes.write(hi << 4 | lo);
            }
            out.append(decode(ByteBuffer.wrap(bytes.toByteArray())));
        }
        return out.toString();
    }
}
