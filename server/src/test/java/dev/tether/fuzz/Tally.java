package dev.tether.fuzz;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Counts of a campaign: cases per area, failures per category, distinct failure signatures
 * (each with its count and its shortest example), and a compact line per failing case.
 *
 * <p>Not thread-safe: owned by the campaign's thread.
 */
public final class Tally {
    private final long seed;
    private final Map<Area, Integer> cases = new EnumMap<>(Area.class);
    private final Map<Area, Long> areaMillis = new EnumMap<>(Area.class);
    private final Map<Area, Integer> failingPerArea = new EnumMap<>(Area.class);
    private final Map<Failure.Category, Integer> categories = new EnumMap<>(Failure.Category.class);
    private final Map<String, Signature> signatures = new LinkedHashMap<>();
    private final List<String> failingCases = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private long millis;

    Tally(long seed) {
        this.seed = seed;
    }

    /** A distinct failure: how often it was seen and the shortest case that showed it. */
    private static final class Signature {
        int count;
        FuzzCase example;
        Failure failure;
    }

    void record(FuzzCase c, List<Failure> failures, long millis) {
        cases.merge(c.id().area(), 1, Integer::sum);
        areaMillis.merge(c.id().area(), millis, Long::sum);
        if (failures.isEmpty()) {
            return;
        }
        failingPerArea.merge(c.id().area(), 1, Integer::sum);
        List<String> labels = new ArrayList<>();
        for (Failure f : failures) {
            categories.merge(f.category(), 1, Integer::sum);
            Signature s = signatures.computeIfAbsent(f.signature(), k -> new Signature());
            s.count++;
            if (s.example == null || c.size() < s.example.size()) {
                s.example = c;
                s.failure = f;
            }
            labels.add(f.category().label());
        }
        // describe() and details are printable already: only shortened and put on one line here
        String sent = shorten(c.describe(120).replace("\n      ", " ; ").replace("\n    ", " ; "), 400);
        String did = shorten(failures.getFirst().detail(), 240);
        failingCases.add(c.id() + " " + Text.excerpt(c.kind(), 80) + " | " + sent + " | " + String.join(",", labels)
                + " | server: " + did);
    }

    private static String shorten(String s, int max) {
        return s.length() > max ? s.substring(0, max) + "..." : s;
    }

    /** A failure that belongs to no case (health after a batch, a dead server). */
    void recordGlobal(Failure f, String when) {
        categories.merge(f.category(), 1, Integer::sum);
        Signature s = signatures.computeIfAbsent(f.signature(), k -> new Signature());
        s.count++;
        s.failure = f;
        failingCases.add(when + " | " + f.signature());
    }

    void note(String line) {
        notes.add(line);
    }

    void elapsed(long value) {
        millis = value;
    }

    public int totalCases() {
        return cases.values().stream().mapToInt(Integer::intValue).sum();
    }

    public int failingCaseCount() {
        return failingCases.size();
    }

    public int distinctSignatures() {
        return signatures.size();
    }

    public Map<Area, Integer> casesPerArea() {
        return Map.copyOf(cases);
    }

    public Map<Failure.Category, Integer> failuresPerCategory() {
        return Map.copyOf(categories);
    }

    /** Counts and distinct signatures, each with its shortest example and a replay command. */
    public String summary(String against) {
        StringBuilder sb = new StringBuilder();
        sb.append("Tether API fuzz: seed ")
                .append(seed)
                .append(", ")
                .append(totalCases())
                .append(" cases in ")
                .append(String.format("%.1f", millis / 1000.0))
                .append(" s against ")
                .append(against)
                .append('\n');
        sb.append("  cases per area:");
        cases.forEach((a, n) -> sb.append(' ').append(a.label()).append(' ').append(n));
        sb.append("\n  seconds per area:");
        areaMillis.forEach(
                (a, n) -> sb.append(' ').append(a.label()).append(' ').append(String.format("%.1f", n / 1000.0)));
        sb.append("\n  failing cases: ")
                .append(failingCases.size())
                .append(" of ")
                .append(totalCases());
        sb.append(" (");
        failingPerArea.forEach(
                (a, n) -> sb.append(a.label()).append(' ').append(n).append(", "));
        int global = failingCases.size()
                - failingPerArea.values().stream().mapToInt(Integer::intValue).sum();
        sb.append("after a batch ").append(global).append(")\n");
        sb.append("  failures per category:");
        if (categories.isEmpty()) {
            sb.append(" none");
        }
        categories.forEach(
                (c, n) -> sb.append(' ').append(c.label()).append(' ').append(n));
        sb.append("\n  distinct failure signatures: ").append(signatures.size()).append('\n');
        for (String n : notes) {
            sb.append("  note: ").append(n).append('\n');
        }
        signatures.forEach((key, s) -> {
            sb.append("\n  [").append(s.count).append("x] ").append(key).append('\n');
            if (s.example != null) {
                sb.append("    e.g. ")
                        .append(s.example.id())
                        .append(" (")
                        .append(Text.excerpt(s.example.kind(), 100))
                        .append(")\n    ")
                        .append(s.example.describe())
                        .append('\n');
                sb.append("    server: ")
                        .append(Text.excerpt(s.failure.detail(), 500))
                        .append('\n');
                sb.append("    replay: bench/fuzz/run.sh --seed ")
                        .append(seed)
                        .append(" --only ")
                        .append(s.example.id())
                        .append('\n');
            } else {
                sb.append("    ").append(Text.excerpt(s.failure.detail(), 500)).append('\n');
            }
        });
        return sb.toString();
    }

    /** One line per failing case, at most {@code max}. */
    public String failingCaseLines(int max) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(max, failingCases.size()); i++) {
            sb.append("  ").append(failingCases.get(i)).append('\n');
        }
        if (failingCases.size() > max) {
            sb.append("  ... and ").append(failingCases.size() - max).append(" more\n");
        }
        return sb.toString();
    }
}
