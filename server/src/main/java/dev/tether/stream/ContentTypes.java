package dev.tether.stream;

import java.util.Locale;

/** Content-type rules of the protocol: comparison by media type, case-insensitively. */
public final class ContentTypes {
    public static final String DEFAULT = "application/octet-stream";
    public static final String JSON = "application/json";

    private ContentTypes() {}

    /** The media type without parameters, trimmed and lower-cased. */
    public static String mediaType(String contentType) {
        int semi = contentType.indexOf(';');
        String base = semi < 0 ? contentType : contentType.substring(0, semi);
        return base.trim().toLowerCase(Locale.ROOT);
    }

    public static boolean sameMediaType(String a, String b) {
        return mediaType(a).equals(mediaType(b));
    }

    public static boolean isJson(String contentType) {
        return mediaType(contentType).equals(JSON);
    }

    /** SSE payloads are sent as text for these types and base64 otherwise (Durable Streams §5.8). */
    public static boolean isTextual(String contentType) {
        String m = mediaType(contentType);
        return m.startsWith("text/") || m.equals(JSON);
    }
}
