package dev.tether.inference.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ToolCall;
import dev.tether.inference.ToolSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The upstream request body, and the per-session cache of its messages' JSON. */
class RequestBodyTest {
    private static final ChatMessage SYSTEM = new ChatMessage.System("Be brief.\n\"quoted\"");
    private static final ChatMessage USER = new ChatMessage.User("list the files");
    private static final ChatMessage CALL =
            new ChatMessage.Assistant("", List.of(new ToolCall("call_1", "ls", "{\"dir\":\".\"}")));
    private static final ChatMessage RESULT = new ChatMessage.ToolResult("call_1", "a.txt\nb.txt\tü 🙂");

    private static ModelRequest request(String session, List<ChatMessage> messages) throws Exception {
        JsonNode params = ChatCodec.JSON.readTree("{\"type\":\"object\"}");
        return new ModelRequest(
                "m",
                session,
                true,
                messages,
                List.of(new ToolSpec("ls", "lists files", params, true)),
                ChatCodec.JSON.readTree("{\"type\":\"function\",\"name\":\"ls\"}"),
                false,
                0.5,
                null,
                100,
                null,
                2);
    }

    /** The same body built the plain way: one tree, serialized once. */
    private static byte[] reference(ModelRequest r, String model) throws Exception {
        ObjectNode body = ChatCodec.JSON.createObjectNode();
        body.put("model", model);
        var messages = body.putArray("messages");
        for (ChatMessage m : r.messages()) {
            messages.add(ChatCodec.JSON.readTree(ChatCodec.messageJson(m)));
        }
        var tools = body.putArray("tools");
        var fn = tools.addObject().put("type", "function").putObject("function");
        fn.put("name", "ls").put("description", "lists files");
        fn.set("parameters", ChatCodec.JSON.readTree("{\"type\":\"object\"}"));
        fn.put("strict", true);
        body.set("tool_choice", ChatCodec.JSON.readTree("{\"type\":\"function\",\"function\":{\"name\":\"ls\"}}"));
        body.put("parallel_tool_calls", false);
        body.put("temperature", 0.5);
        body.put("max_tokens", 100);
        body.put("logprobs", true);
        body.put("top_logprobs", 2);
        body.put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        return ChatCodec.JSON.writeValueAsBytes(body);
    }

    @Test
    void theBodyIsTheCanonicalJsonColdAndWarm() throws Exception {
        PrefixCache cache = new PrefixCache(1 << 20);
        ModelRequest first = request("s1", List.of(SYSTEM, USER, CALL));
        assertArrayEquals(reference(first, "m"), ChatCodec.requestBody(first, "m", cache));
        ModelRequest second = request("s1", List.of(SYSTEM, USER, CALL, RESULT));
        assertArrayEquals(reference(second, "m"), ChatCodec.requestBody(second, "m", cache));
        assertArrayEquals(reference(second, null), ChatCodec.requestBody(second, null, cache));
        String text = new String(ChatCodec.requestBody(second, "m", cache), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(text.startsWith("{\"model\":\"m\",\"messages\":[{\"role\":\"system\""), text);
    }

    /** Counts the messages actually serialized. */
    private static Function<ChatMessage, byte[]> counting(AtomicInteger calls) {
        return m -> {
            calls.incrementAndGet();
            return ChatCodec.messageJson(m);
        };
    }

    @Test
    void aChainsNextTurnSerializesOnlyItsNewMessages() {
        PrefixCache cache = new PrefixCache(1 << 20);
        AtomicInteger calls = new AtomicInteger();
        cache.render("s1", List.of(SYSTEM, USER, CALL), counting(calls));
        assertEquals(3, calls.get());
        List<byte[]> json = cache.render("s1", List.of(SYSTEM, USER, CALL, RESULT), counting(calls));
        assertEquals(4, calls.get(), "the three messages of the last turn were serialized again");
        assertArrayEquals(ChatCodec.messageJson(RESULT), json.get(3));
    }

    @Test
    void aChangedMessageIsSerializedAgainNotTakenFromTheLastTurn() {
        PrefixCache cache = new PrefixCache(1 << 20);
        AtomicInteger calls = new AtomicInteger();
        cache.render("s1", List.of(SYSTEM, USER, CALL), counting(calls));
        ChatMessage otherUser = new ChatMessage.User("summary of the earlier turns");
        List<byte[]> json = cache.render("s1", List.of(SYSTEM, otherUser, CALL), counting(calls));
        assertArrayEquals(ChatCodec.messageJson(otherUser), json.get(1));
        assertEquals(4, calls.get());
    }

    @Test
    void oneSessionsBytesNeverServeAnother() {
        PrefixCache cache = new PrefixCache(1 << 20);
        AtomicInteger calls = new AtomicInteger();
        cache.render("s1", List.of(SYSTEM, USER), counting(calls));
        cache.render("s2", List.of(SYSTEM, USER), counting(calls));
        assertEquals(4, calls.get());
    }

    @Test
    void theBudgetEvictsTheLeastRecentlyUsedSessionsAndForgetDrops() {
        List<ChatMessage> big = new ArrayList<>();
        big.add(new ChatMessage.User("x".repeat(10_000)));
        PrefixCache cache = new PrefixCache(50_000);
        AtomicInteger calls = new AtomicInteger();
        for (int s = 0; s < 5; s++) {
            cache.render("s" + s, big, counting(calls));
            assertTrue(cache.bytes() <= 50_000, "over budget: " + cache.bytes());
        }
        calls.set(0);
        cache.render("s4", big, counting(calls)); // the most recent stays
        assertEquals(0, calls.get());
        cache.render("s0", big, counting(calls)); // the oldest went
        assertEquals(1, calls.get());
        cache.forget("s0");
        cache.render("s0", big, counting(calls));
        assertEquals(2, calls.get());
        PrefixCache tiny = new PrefixCache(100);
        tiny.render("s", big, counting(calls));
        assertEquals(0, tiny.bytes(), "a context larger than the whole budget is not kept");
    }
}
