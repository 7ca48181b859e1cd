package dev.tether.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code response.steer} frame: what it accepts, and the successor request it makes. */
class SteerTest {

    private static ObjectNode json(String text) throws Exception {
        return (ObjectNode) Json.MAPPER.readTree(text);
    }

    @Test
    void theSuccessorKeepsTheSteeredRequestsSettingsAndAlwaysGenerates() throws Exception {
        ObjectNode steered = json("{\"type\":\"response.create\",\"model\":\"m\",\"instructions\":\"sys\","
                + "\"tools\":[],\"store\":false,\"generate\":false,\"previous_response_id\":\"resp_0\","
                + "\"input\":\"old\"}");
        Steer a = Steer.parse(json("{\"previous_response_id\":\"resp_1\",\"input\":\"first\"}"));
        Steer b = Steer.parse(json(
                "{\"previous_response_id\":\"resp_1\",\"input\":[{\"role\":\"user\"," + "\"content\":\"second\"}]}"));

        ObjectNode next = Steer.successor(steered, "resp_1", List.of(a, b));

        assertEquals("resp_1", next.path("previous_response_id").asText(), "it continues the steered response");
        assertEquals("sys", next.path("instructions").asText());
        assertFalse(next.path("store").asBoolean(true));
        assertFalse(next.has("generate"), "a steered warm-up's successor must produce an answer");
        ResponseParams p = ParamsParser.parse(next);
        assertEquals(2, p.input().size(), "both steers' items, nothing of the old input");
        assertEquals(
                "first", p.input().get(0).path("content").get(0).path("text").asText());
        assertEquals(
                "second", p.input().get(1).path("content").get(0).path("text").asText());
        assertEquals("resp_0", steered.path("previous_response_id").asText(), "the steered request is untouched");
    }

    @Test
    void aFrameWithoutATargetOrUsableInputIsRefusedNamingTheField() throws Exception {
        Refusal noTarget = assertThrows(Refusal.class, () -> Steer.parse(json("{\"input\":\"x\"}")));
        assertEquals("previous_response_id", noTarget.param());
        Refusal noInput = assertThrows(Refusal.class, () -> Steer.parse(json("{\"previous_response_id\":\"resp_1\"}")));
        assertEquals("invalid_input", noInput.code());
        Refusal badItem = assertThrows(
                Refusal.class,
                () -> Steer.parse(json("{\"previous_response_id\":\"resp_1\",\"input\":[{\"type\":\"bogus\"}]}")));
        assertEquals("invalid_input", badItem.code());
        assertTrue(badItem.param().startsWith("input[0]"), "the param names the item: " + badItem.param());
        Steer lane = Steer.parse(json("{\"stream_id\":\"a\",\"previous_response_id\":\"resp_1\",\"input\":\"x\"}"));
        assertEquals("a", lane.streamId());
        assertNull(Steer.parse(json("{\"previous_response_id\":\"resp_1\",\"input\":\"x\"}"))
                .streamId());
    }
}
