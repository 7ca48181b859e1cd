package dev.tether.auth;

/**
 * A capability's resource: a name such as {@code responses} or a glob such as {@code
 * streams/chat/*} or {@code sessions/team-*}. {@code *} matches any run of characters, slashes
 * included (as Ably's channel wildcards do), so {@code streams/chat/*} covers {@code
 * streams/chat/a/b}; a lone {@code *} matches every resource.
 *
 * @param glob the pattern as written in the capability document
 */
record ResourcePattern(String glob) {
    static final int MAX_LENGTH = 1024;

    ResourcePattern {
        if (!valid(glob)) {
            throw new IllegalArgumentException("'" + glob + "' is not a resource: use *, responses, conversations,"
                    + " metrics, streams/<path glob> or sessions/<id glob>");
        }
    }

    /** Whether {@code glob} names a resource kind this server has. */
    static boolean valid(String glob) {
        if (glob == null || glob.isEmpty() || glob.length() > MAX_LENGTH) {
            return false;
        }
        return glob.equals("*")
                || glob.equals("responses")
                || glob.equals("conversations")
                || glob.equals("metrics")
                || (glob.startsWith("streams/") && glob.length() > "streams/".length())
                || (glob.startsWith("sessions/") && glob.length() > "sessions/".length());
    }

    /** Whether the concrete resource name (no wildcards of its own) is matched. */
    boolean matches(String resource) {
        if (glob.equals("*")) {
            return true; // checked on every request in open mode: no work
        }
        if (glob.indexOf('*') < 0) {
            return glob.equals(resource);
        }
        return wildcardMatch(glob, 0, resource, 0, false);
    }

    /** Whether every resource {@code other} matches is also matched by this pattern. */
    boolean covers(ResourcePattern other) {
        return wildcardMatch(glob, 0, other.glob, 0, true);
    }

    /**
     * Glob containment by dynamic programming over positions: a literal character matches only the
     * same literal, a {@code *} in this pattern absorbs any run of the other string, and when the
     * other string is itself a pattern ({@code patternSubject}) its {@code *} can only be absorbed
     * by one of ours.
     */
    private static boolean wildcardMatch(String p, int pi, String s, int si, boolean patternSubject) {
        boolean[] next = new boolean[s.length() + 2];
        boolean[] row = new boolean[s.length() + 2];
        // row[j]: p[i..] matches s[j..]; computed from the end of p backwards.
        next[s.length()] = true;
        for (int i = p.length() - 1; i >= pi; i--) {
            char pc = p.charAt(i);
            java.util.Arrays.fill(row, false);
            for (int j = s.length(); j >= si; j--) {
                if (pc == '*') {
                    row[j] = next[j] || (j < s.length() && row[j + 1]);
                } else if (j < s.length()) {
                    char sc = s.charAt(j);
                    boolean literal = !(patternSubject && sc == '*');
                    row[j] = literal && pc == sc && next[j + 1];
                }
            }
            boolean[] t = next;
            next = row;
            row = t;
        }
        return next[si];
    }

    @Override
    public String toString() {
        return glob;
    }
}
