package dev.tether.fuzz;

/**
 * Names one generated case: the same seed, area and index always generate the same request
 * (given the same fixtures), so a failure is replayed with {@code --seed S --only area:index}.
 */
public record CaseId(long seed, Area area, int index) {
    /** The case's own random seed, independent of every other case (SplitMix64 finaliser). */
    long caseSeed() {
        long z = seed * 0x9E3779B97F4A7C15L + area.ordinal() * 0xBF58476D1CE4E5B9L + index * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public String toString() {
        return area.label() + ":" + index;
    }
}
