package dev.tether.inference.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Token pieces to text: split UTF-8 characters, stop sequences, and sampling edge cases. */
class TextAssemblerTest {
    @Test
    void aCharacterSplitAcrossTokensIsEmittedWhole() {
        TextAssembler text = new TextAssembler(List.of());
        byte[] euro = "€".getBytes(StandardCharsets.UTF_8); // 3 bytes
        assertEquals("a", text.add(new byte[] {'a', euro[0]}));
        assertEquals("", text.add(new byte[] {euro[1]}));
        assertEquals("€b", text.add(new byte[] {euro[2], 'b'}));
        assertEquals("", text.finish());
    }

    @Test
    void anUnfinishedCharacterAtTheEndBecomesAReplacementCharacter() {
        TextAssembler text = new TextAssembler(List.of());
        assertEquals("x", text.add(new byte[] {'x', (byte) 0xE2, (byte) 0x82}));
        assertEquals("\uFFFD", text.finish());
    }

    @Test
    void textIsCutAtTheEarliestStopSequenceAndNothingOfItLeaks() {
        TextAssembler text = new TextAssembler(List.of("<|im_end|>", "<|im_start|>"));
        assertEquals("hello ", text.add(bytes("hello <|im_")));
        assertEquals("", text.add(bytes("start|>user<|im_end|>")));
        assertTrue(text.stopped());
        assertEquals("", text.add(bytes("more")));
        assertEquals("", text.finish());
    }

    @Test
    void heldBackTextIsReleasedWhenItTurnsOutNotToBeAStop() {
        TextAssembler text = new TextAssembler(List.of("<|im_end|>"));
        assertEquals("a ", text.add(bytes("a <|im")));
        assertEquals("<|image", text.add(bytes("age")));
    }

    @Test
    void topPZeroAndNonFiniteLogitsFallBackToTheMostLikelyToken() {
        float[] logits = {0.1f, 3f, 0.5f};
        assertEquals(1, new Sampler(1.0, 0.0, 1).sample(logits));
        float[] broken = {0.1f, Float.NaN, 0.5f, Float.POSITIVE_INFINITY};
        int picked = new Sampler(1.0, 0.9, 1).sample(broken);
        assertTrue(picked >= 0 && picked < broken.length, "no exception, a valid token: " + picked);
        assertEquals(2, new Sampler(0.7, 1.0, 1).sample(Arrays.copyOf(new float[] {0f, 0f, 50f}, 3)));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
