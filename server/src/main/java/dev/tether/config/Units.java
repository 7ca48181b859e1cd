package dev.tether.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the CLI's human units: durations ({@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 7d}) and sizes ({@code 16MiB}). */
public final class Units {
    private static final Pattern DURATION = Pattern.compile("([0-9]{1,12})(ms|s|m|h|d)");
    private static final Pattern SIZE = Pattern.compile("([0-9]{1,15})(b|kb|kib|mb|mib|gb|gib)?");

    private Units() {}

    public static Duration duration(String text) {
        Matcher m = DURATION.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "'" + text + "' is not a duration; write it like 500ms, 30s, 5m, 1h or 7d");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    public static long bytes(String text) {
        Matcher m = SIZE.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "'" + text + "' is not a size; write it like 65536, 512KiB, 16MiB or 2GiB");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "b" : m.group(2);
        return switch (unit) {
            case "kb" -> n * 1000;
            case "kib" -> n * 1024;
            case "mb" -> n * 1000_000;
            case "mib" -> n * 1024 * 1024;
            case "gb" -> n * 1000_000_000;
            case "gib" -> n * 1024L * 1024 * 1024;
            default -> n;
        };
    }
}
