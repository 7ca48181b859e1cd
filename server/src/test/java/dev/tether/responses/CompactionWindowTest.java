package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which items a backend sees around a compaction item. */
class CompactionWindowTest {
    private static ObjectNode user(String text) {
        return Items.message("user", Items.textParts("input_text", text), null);
    }

    private static ObjectNode assistant(String text) {
        return Items.message("assistant", Items.textParts("output_text", text), null);
    }

    @Test
    void aResponseThatCompactedItsOwnContextKeepsItsTurnAndDropsWhatItSummarised() {
        ObjectNode u1 = user("old"), a1 = assistant("old answer"), u2 = user("kept"), a2 = assistant("new answer");
        ObjectNode cmp = Compaction.item("summary", a1.get("id").asText());
        ObjectNode u3 = user("next");
        // The chain of an automatic compaction: prefix, the turn's input, then its output (compaction first).
        assertEquals(List.of(cmp, u2, a2, u3), Compaction.window(List.of(u1, a1, u2, cmp, a2, u3)));
        assertEquals(
                List.of(cmp, u2, a2, u3),
                Compaction.window(Compaction.window(List.of(u1, a1, u2, cmp, a2, u3))),
                "idempotent");
    }

    @Test
    void aCompactedWindowReplayedOntoItsOwnChainDoesNotRepeatTheKeptItems() {
        ObjectNode u1 = user("old"), a1 = assistant("old answer"), u2 = user("kept");
        ObjectNode cmp = Compaction.item("summary", a1.get("id").asText());
        ObjectNode u3 = user("next");
        assertEquals(List.of(cmp, u2, u3), Compaction.window(List.of(u1, a1, u2, cmp, u2, u3)));
    }

    @Test
    void withoutItsLastItemInTheContextACompactionReplacesEverythingBeforeIt() {
        ObjectNode stray = user("from another chain");
        ObjectNode cmp = Compaction.item("summary", "msg_elsewhere");
        ObjectNode u = user("kept");
        assertEquals(List.of(cmp, u), Compaction.window(List.of(stray, cmp, u)));
    }

    @Test
    void onlyContentThisServerEncodedDecodes() {
        ObjectNode cmp = Compaction.item("a summary ✓", "msg_1");
        assertEquals(
                new Compaction.Content("a summary ✓", "msg_1"),
                Compaction.decode(cmp.get("encrypted_content").asText()));
        assertNull(Compaction.decode("gAAAAAB-openai-ciphertext"));
        assertNull(Compaction.decode(Compaction.VERSION + "%%%"));
        assertNull(Compaction.decode(Compaction.VERSION + "bm90IGpzb24"), "base64 of 'not json'");
        assertNull(Compaction.decode(Compaction.VERSION + "eyJ4IjoxfQ"), "base64 of {\"x\":1}: no summary");
    }
}
