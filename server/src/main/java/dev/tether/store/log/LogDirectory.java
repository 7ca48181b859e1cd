package dev.tether.store.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The log's directory as the file system holds it: making its entries durable (a new segment's
 * name, a deletion), creating it on a first start, listing its segment files; and, for tests, a
 * power loss's effect on names no directory sync covered.
 *
 * <p>Stateless and thread-safe (the test model's record is a concurrent map).
 */
final class LogDirectory {
    private static final System.Logger LOG = System.getLogger(LogDirectory.class.getName());

    /**
     * Tests: whether directory syncs record the names they cover, for the power-loss model of
     * {@link #dropUnsyncedNames}. Off in production (the build's test run sets
     * {@code -Dtether.log.modelDirectoryEntries=true}).
     */
    static final boolean MODEL_DIRECTORY_ENTRIES = Boolean.getBoolean("tether.log.modelDirectoryEntries");

    /** Tests: the names each directory's last {@link #sync} made durable, when {@link #MODEL_DIRECTORY_ENTRIES}. */
    private static final Map<Path, Set<String>> SYNCED_NAMES = new ConcurrentHashMap<>();

    private LogDirectory() {}

    /** Makes the directory's entries (a new segment's or index file's name, a deletion) durable. */
    static void sync(Path dir) throws IOException {
        Set<String> listed = MODEL_DIRECTORY_ENTRIES ? listedForTheModel(dir) : null;
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
        if (listed != null) {
            SYNCED_NAMES.put(dir.toAbsolutePath().normalize(), listed);
        }
    }

    /**
     * Creates {@code dir} and whatever of its parents is missing, syncing the directory that holds
     * each new one: on a first start the log directory's own name (and a new data directory's)
     * must survive a power loss as much as the first segment's data. A parent that cannot be
     * synced (no read permission on it) is only warned about.
     */
    static void createDurably(Path dir) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir.toAbsolutePath(); p != null && !Files.exists(p); p = p.getParent()) {
            missing.add(p);
        }
        Files.createDirectories(dir);
        for (Path made : missing) {
            try {
                sync(made.getParent());
            } catch (AccessDeniedException e) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "could not sync " + made.getParent() + " after creating " + made
                                + " in it: a power loss right after this first start could lose it (" + e + ")");
            }
        }
    }

    /** The bases of the segment files in {@code dir}, in order. */
    static List<Long> segmentBases(Path dir) throws IOException {
        return segmentBases(names(dir));
    }

    /** The bases of the segment files among {@code names}, in order. */
    static List<Long> segmentBases(Collection<String> names) {
        return names.stream()
                .filter(n -> n.matches("[0-9]{20}\\.seg"))
                .map(n -> Long.parseLong(n.substring(0, 20)))
                .sorted()
                .toList();
    }

    /** The names in {@code dir}. */
    static Set<String> names(Path dir) throws IOException {
        Set<String> names = new HashSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                names.add(f.getFileName().toString());
            }
        }
        return names;
    }

    /**
     * Tests, the names' part of a power loss ({@link LogStreamStore#dropUnsynced}): removes every
     * file of {@code dir} whose name no sync of it covered, or, when {@code dir}'s own name in its
     * parent was never synced, all of {@code dir} (after {@code beforeRemovingAll}, which stops
     * whatever still writes there). A deletion counts as durable at once, and a file renamed over
     * a synced name is kept. The lock file is left alone unless all of it goes.
     */
    static void dropUnsyncedNames(Path dir, Runnable beforeRemovingAll) throws IOException {
        Path absolute = dir.toAbsolutePath();
        if (!syncedNames(absolute.getParent()).contains(absolute.getFileName().toString())) {
            beforeRemovingAll.run();
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(f);
                }
            }
            return;
        }
        Set<String> synced = syncedNames(dir);
        for (String name : names(dir)) {
            Path file = dir.resolve(name);
            if (!name.equals(DirectoryLock.NAME)
                    && !synced.contains(name)
                    && Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                Files.deleteIfExists(file);
            }
        }
    }

    /**
     * The names a sync is about to cover (listed first: one made during the sync counts as not
     * covered, the stricter reading), or null when listing failed: the model must never stand in
     * the way of the sync itself.
     */
    private static Set<String> listedForTheModel(Path dir) {
        try {
            return names(dir);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Tests: the names in {@code dir} as its last sync left them (empty: never synced). */
    private static Set<String> syncedNames(Path dir) {
        if (!MODEL_DIRECTORY_ENTRIES) {
            throw new IllegalStateException(
                    "the power-loss model needs -Dtether.log.modelDirectoryEntries=true (the build's tests set it)");
        }
        return SYNCED_NAMES.getOrDefault(dir.toAbsolutePath().normalize(), Set.of());
    }
}
