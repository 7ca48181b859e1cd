package dev.tether.fuzz;

import java.util.List;
import java.util.SplittableRandom;

/** The one source of randomness of a case: seeded, so a case is generated the same way every time. */
final class Dice {
    private final SplittableRandom random;

    Dice(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** {@code true} with probability {@code p}. */
    boolean chance(double p) {
        return random.nextDouble() < p;
    }

    /** A uniform int in [lo, hi]. */
    int between(int lo, int hi) {
        return lo + random.nextInt(hi - lo + 1);
    }

    int below(int n) {
        return random.nextInt(n);
    }

    long nextLong() {
        return random.nextLong();
    }

    @SafeVarargs
    final <T> T pick(T... options) {
        return options[random.nextInt(options.length)];
    }

    <T> T pick(List<T> options) {
        return options.get(random.nextInt(options.size()));
    }

    byte[] bytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    /** Lowercase letters and digits: names that are valid everywhere (paths, ids, JSON). */
    String word(int min, int max) {
        int n = between(min, max);
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            sb.append("abcdefghijklmnopqrstuvwxyz0123456789".charAt(random.nextInt(36)));
        }
        return sb.toString();
    }
}
