package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ToolCall;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code truncation: "auto"} cuts whole turns, oldest first, and keeps the instructions. */
class TruncationTest {
    private static ModelRequest request(ChatMessage... messages) {
        return new ModelRequest("m", "s", true, List.of(messages), List.of(), null, null, null, null, null, null, null);
    }

    @Test
    void theOldestTurnGoesWithItsToolCallsAndOutputsAndTheInstructionsStay() {
        ChatMessage system = new ChatMessage.System("be brief");
        ChatMessage u1 = new ChatMessage.User("first");
        ChatMessage call = new ChatMessage.Assistant("", List.of(new ToolCall("c1", "f", "{}")));
        ChatMessage out = new ChatMessage.ToolResult("c1", "42");
        ChatMessage a1 = new ChatMessage.Assistant("done", List.of());
        ChatMessage u2 = new ChatMessage.User("second");
        ModelRequest shorter = Truncation.dropOldestTurn(request(system, u1, call, out, a1, u2));
        assertEquals(List.of(system, u2), shorter.messages());
        assertNull(Truncation.dropOldestTurn(shorter), "only the last turn is left: nothing more to drop");
    }
}
