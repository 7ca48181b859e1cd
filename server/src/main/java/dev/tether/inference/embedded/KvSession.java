package dev.tether.inference.embedded;

import java.util.Arrays;

/**
 * One session's KV state: the tokens whose keys and values sit in its llama.cpp sequence, in
 * position order. Resident while it has a sequence id; otherwise spilled or gone.
 *
 * <p>Not thread-safe; confined to the engine thread.
 */
final class KvSession {
    final String key;
    /** False once any turn was store:false: then nothing of it may reach disk. */
    boolean persistent;

    int seq = -1;
    /** When its last turn ended: orders eviction and expires {@code store:false} sessions. */
    long lastUsedNanos;
    /** Cells held for the running turn (prompt plus its output limit); 0 when idle. */
    int reserved;

    boolean busy;
    /** Its chain was deleted: the state goes as soon as its running turn ends. */
    boolean forgotten;

    private int[] tokens = new int[64];
    private int size;

    KvSession(String key, boolean persistent) {
        this.key = key;
        this.persistent = persistent;
    }

    boolean resident() {
        return seq >= 0;
    }

    int size() {
        return size;
    }

    /** Cells this session counts against the budget. */
    int cells() {
        return Math.max(size, reserved);
    }

    int[] tokens() {
        return Arrays.copyOf(tokens, size);
    }

    void append(int token) {
        if (size == tokens.length) tokens = Arrays.copyOf(tokens, size * 2);
        tokens[size++] = token;
    }

    void truncate(int n) {
        size = Math.min(size, n);
    }

    void replace(int[] all) {
        tokens = Arrays.copyOf(all, Math.max(64, all.length));
        size = all.length;
    }

    /** Length of the common prefix of the resident tokens and {@code prompt}. */
    int commonPrefix(int[] prompt) {
        return commonPrefix(tokens, size, prompt);
    }

    static int commonPrefix(int[] a, int aSize, int[] b) {
        int n = Math.min(aSize, b.length);
        int i = Arrays.mismatch(a, 0, n, b, 0, n);
        return i < 0 ? n : i;
    }
}
