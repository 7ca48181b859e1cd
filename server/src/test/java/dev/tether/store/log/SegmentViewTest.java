package dev.tether.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads through the mapped file ({@link Segment#view}): a growing segment is mapped again when a
 * read needs what was written since, and a mapping outlives the segment's close (a deletion by
 * retention) only until the reads holding it release it, when it is unmapped.
 */
class SegmentViewTest {
    @TempDir
    Path dir;

    private static String text(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return new String(out, StandardCharsets.UTF_8);
    }

    private static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aReadOfBytesWrittenAfterTheMappingMapsTheGrownFile() throws IOException {
        try (Segment s = Segment.open(dir, 1000)) {
            long first = s.append(bytes("hello"));
            Segment.Mapping[] held = new Segment.Mapping[1];
            assertEquals("hello", text(s.view(first, 5, held)));
            s.release(held[0]);
            long second = s.append(bytes(" world"));
            assertEquals(" world", text(s.view(second, 6, held)), "read past the first mapping's end");
            s.release(held[0]);
            assertThrows(IOException.class, () -> s.view(second, 7, held), "a read past the file's end");
        }
    }

    @Test
    void mappingNeverLengthensAFileCutShorterMeanwhile() throws IOException {
        Path spare = dir.resolve("spare");
        Files.write(spare, new byte[64 << 10]); // a preallocated segment: its file is longer than its data
        try (Segment s = Segment.adopt(spare, dir, 0)) {
            long at = s.append(bytes("data"));
            // As seal() does to a full segment, here between a reader's look at the length and its map.
            try (FileChannel cut = FileChannel.open(s.file, StandardOpenOption.WRITE)) {
                cut.truncate(Segment.PAGE);
            }
            Segment.Mapping[] held = new Segment.Mapping[1];
            assertEquals("data", text(s.view(at, 4, held)));
            s.release(held[0]);
            assertEquals(Segment.PAGE, Files.size(s.file), "the mapping did not grow the file back");
        }
    }

    @Test
    void residentOnlyWhereMappedAndInMemory() throws IOException {
        Path spare = dir.resolve("spare");
        try (FileChannel sparse = FileChannel.open(spare, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            sparse.write(ByteBuffer.allocate(1), (64L << 20) - 1); // 64 MiB, all a hole but its last byte
        }
        Segment s = Segment.adopt(spare, dir, 0);
        try {
            long at = s.append(bytes("written"));
            assertFalse(s.resident(at, 7), "not mapped yet: the read that maps it may block");
            Segment.Mapping[] held = new Segment.Mapping[1];
            assertEquals("written", text(s.view(at, 7, held)));
            s.release(held[0]);
            assertTrue(s.resident(at, 7), "just written and read: in the page cache");
            assertFalse(s.resident(48L << 20, 4096), "a hole far from anything read: mapped, but in no page");
            assertFalse(s.resident((64L << 20) - 10, 20), "past the mapping's end");
            s.close();
            assertFalse(s.resident(at, 7), "closed");
        } finally {
            s.close();
        }
    }

    @Test
    void aMappingIsUnmappedAtTheLastReleaseAfterTheSegmentCloses() throws IOException {
        Segment s = Segment.open(dir, 0);
        long at = s.append(bytes("kept while read"));
        Segment.Mapping[] held = new Segment.Mapping[1];
        ByteBuffer view = s.view(at, 15, held);
        s.close();
        Files.delete(s.file); // retention deletes a segment a reader is still copying from
        assertThrows(ClosedChannelException.class, () -> s.view(at, 15, new Segment.Mapping[1]));
        assertEquals("kept while read", text(view.duplicate()), "the held view still reads");
        s.release(held[0]);
        assertThrows(IllegalStateException.class, () -> view.duplicate().get(), "unmapped at the last release");
    }
}
