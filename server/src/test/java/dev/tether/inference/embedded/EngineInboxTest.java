package dev.tether.inference.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tether.inference.ModelException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The engine's mailbox: bounded, and the engine sleeps on it until there is something to do. */
class EngineInboxTest {
    private static Turn turn(String key) {
        return new Turn(key, true, new int[] {1, 2, 3}, 4, new Sampler(0, 1, 1), new TextAssembler(List.of()), -1);
    }

    @Test
    void aTurnBeyondTheBoundIsRefusedAsOverloadedNotQueued() throws Exception {
        EngineInbox inbox = new EngineInbox(2);
        inbox.submit(turn("a"));
        inbox.submit(turn("b"));
        ModelException e = assertThrows(ModelException.class, () -> inbox.submit(turn("c")));
        assertEquals(ModelException.Kind.OVERLOADED, e.kind());
        assertTrue(e.getMessage().contains("2 turns are already waiting"), e.getMessage());
        assertEquals(2, inbox.waiting(), "the refused turn was not queued");
        assertEquals(1, inbox.refused());

        List<Turn> taken = new ArrayList<>();
        inbox.drain(taken, key -> {});
        assertEquals(2, taken.size());
        assertEquals(2, inbox.waiting(), "taken by the engine, the turns still wait for admission");
        inbox.left(1); // one was admitted
        inbox.submit(turn("d"));
        assertThrows(ModelException.class, () -> inbox.submit(turn("e")));
    }

    @Test
    void aParkedEngineWakesForATurnACancelAndAForget() throws Exception {
        EngineInbox inbox = new EngineInbox(8);
        for (Runnable event : List.<Runnable>of(
                () -> {
                    try {
                        inbox.submit(turn("a"));
                    } catch (ModelException e) {
                        throw new AssertionError(e);
                    }
                },
                inbox::wake,
                () -> inbox.forget("a"))) {
            // An hour-long park: only the event can end it within the test.
            Thread engine = Thread.ofPlatform().unstarted(() -> inbox.await(TimeUnit.HOURS.toNanos(1)));
            inbox.attach(engine);
            engine.start();
            while (LockSupport.getBlocker(engine) != inbox) {
                assertTrue(engine.isAlive(), "the engine parked (nothing was waiting)");
                Thread.onSpinWait();
            }
            event.run();
            engine.join(10_000);
            assertFalse(engine.isAlive(), "the event woke the engine");
            inbox.drain(new ArrayList<>(), key -> {});
        }
    }

    @Test
    @Timeout(10)
    void workThatArrivedBeforeTheParkIsNotMissed() {
        EngineInbox inbox = new EngineInbox(8); // no engine attached: nothing unparks this thread
        inbox.forget("a");
        inbox.await(TimeUnit.HOURS.toNanos(1)); // returns at once: work is waiting
        List<String> forgotten = new ArrayList<>();
        inbox.drain(new ArrayList<>(), forgotten::add);
        assertEquals(List.of("a"), forgotten);
    }
}
