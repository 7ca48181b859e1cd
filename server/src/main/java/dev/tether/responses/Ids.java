package dev.tether.responses;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Unguessable ids with OpenAI's prefixes ({@code resp_}, {@code msg_}, {@code fc_}, {@code conv_}).
 * A response id is a capability: knowing it is what lets a client read or continue the response.
 */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private Ids() {}

    public static String response() {
        return "resp_" + hex(24);
    }

    public static String conversation() {
        return "conv_" + hex(24);
    }

    static String message() {
        return "msg_" + hex(16);
    }

    static String functionCall() {
        return "fc_" + hex(16);
    }

    static String reasoning() {
        return "rs_" + hex(16);
    }

    static String compaction() {
        return "cmp_" + hex(16);
    }

    static String functionOutput() {
        return "fco_" + hex(16);
    }

    /** Whether {@code id} could be one of ours; anything else cannot name a stream. */
    static boolean wellFormed(String id, String prefix) {
        return id.startsWith(prefix)
                && id.length() <= 128
                && id.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '_' || c == '-');
    }

    private static String hex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HEX.formatHex(b);
    }
}
