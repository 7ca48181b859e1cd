package dev.tether.session;

import dev.tether.errors.Refusal;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** Ids of sessions and of what happens in them; unguessable, prefixed by kind. */
final class SessionIds {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Pattern CLIENT_ID = Pattern.compile("[A-Za-z0-9_.:-]{1,128}");
    private static final Pattern SESSION_ID = Pattern.compile("sess_[0-9a-f]{24}");

    private SessionIds() {}

    static String session() {
        return "sess_" + hex(12);
    }

    static String of(String prefix) {
        return prefix + hex(12);
    }

    /** Whether {@code id} can be a session id (anything else is 404 without a lookup). */
    static boolean sessionId(String id) {
        return SESSION_ID.matcher(id).matches();
    }

    /** A client-chosen id (messages, tool calls, devices): 400 unless short and plain. */
    static String client(String field, String id) {
        if (!CLIENT_ID.matcher(id).matches()) {
            throw Refusal.invalid(field, field + " must be 1 to 128 characters of A-Z a-z 0-9 _ . : -");
        }
        return id;
    }

    private static String hex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
