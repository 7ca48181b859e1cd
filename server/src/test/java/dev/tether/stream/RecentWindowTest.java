package dev.tether.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.tether.store.StoredMessage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecentWindowTest {

    private static List<StoredMessage> messages(long from, int count, int size) {
        List<StoredMessage> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new StoredMessage(from + (long) i * size, new byte[size]));
        }
        return out;
    }

    private static List<Long> positions(List<StoredMessage> read) {
        return read.stream().map(StoredMessage::position).toList();
    }

    @Test
    void aReadStartsAtTheMessageHoldingItsPositionWhereverThatIsInTheRing() {
        RecentWindow w = new RecentWindow(1000, new MemoryBudget(1 << 20));
        w.append(messages(0, 40, 10)); // 400 bytes, past the ring's first growth
        for (int k = 0; k < 40; k++) {
            long from = k * 10L + (k % 3 == 0 ? 0 : 7); // at a boundary and inside a message
            List<StoredMessage> read = w.read(from, 400, 1 << 20);
            assertEquals(k * 10L, read.get(0).position(), "from " + from);
            assertEquals(40 - k, read.size(), "from " + from);
        }
        assertEquals(List.of(100L, 110L, 120L), positions(w.read(100, 400, 25)), "stops once maxBytes are covered");
        assertEquals(List.of(100L, 110L), positions(w.read(100, 120, 1 << 20)), "stops at to");
        assertNull(w.read(0, 401, 1 << 20), "the window does not reach to");
    }

    @Test
    void theOldestMessagesLeaveForTheCapacityAndTheRingWrapsAround() {
        RecentWindow w = new RecentWindow(100, new MemoryBudget(1 << 20));
        for (int batch = 0; batch < 25; batch++) {
            w.append(messages(batch * 30L, 3, 10));
        }
        // 750 bytes appended, 100 kept: positions 650..740
        assertNull(w.read(640, 750, 1 << 20), "below the window: the store's");
        assertEquals(650L, w.read(650, 750, 1 << 20).get(0).position());
        assertEquals(List.of(720L, 730L, 740L), positions(w.read(725, 750, 1 << 20)));
        assertEquals(750L, w.end());
    }

    /**
     * Messages older than the cutoff leave (a slow stream's window held its messages long enough
     * for every young collection to copy them), newer ones stay, through the ring's growth and
     * wrap; the budget's count follows, and a window left empty is no longer tracked.
     */
    @Test
    void messagesAddedBeforeTheCutoffLeaveAndTheBudgetGetsTheirBytesBack() throws Exception {
        MemoryBudget budget = new MemoryBudget(1 << 20);
        RecentWindow w = new RecentWindow(1000, budget);
        RecentWindow other = new RecentWindow(1000, budget);
        w.append(messages(0, 12, 10)); // past the ring's first growth
        other.append(messages(0, 3, 10));
        Thread.sleep(2);
        long cutoff = System.nanoTime();
        Thread.sleep(2);
        w.append(messages(120, 5, 10));
        assertEquals(200, budget.cached());

        budget.expire(cutoff);
        assertNull(w.read(0, 170, 1 << 20), "the old messages are the store's now");
        assertEquals(List.of(120L, 130L, 140L, 150L, 160L), positions(w.read(120, 170, 1 << 20)));
        assertNull(other.read(0, 30, 1 << 20));
        assertEquals(-1, other.end(), "emptied");
        assertEquals(50, budget.cached());

        budget.expire(System.nanoTime());
        assertEquals(0, budget.cached());
        assertEquals(-1, w.end());
        w.append(messages(170, 1, 10));
        assertEquals(List.of(170L), positions(w.read(170, 180, 1 << 20)), "and it fills again");
    }

    @Test
    void aGapEmptiesTheWindowAndItStartsAgainAtTheNewMessage() {
        RecentWindow w = new RecentWindow(1000, new MemoryBudget(1 << 20));
        w.append(messages(0, 5, 10));
        w.append(messages(100, 2, 10)); // not contiguous with 50
        assertNull(w.read(0, 120, 1 << 20));
        assertEquals(List.of(100L, 110L), positions(w.read(100, 120, 1 << 20)));
        w.clear();
        assertEquals(-1L, w.end());
        assertNull(w.read(100, 120, 1 << 20));
    }
}
