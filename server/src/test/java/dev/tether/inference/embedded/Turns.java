package dev.tether.inference.embedded;

import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Builds requests for the embedded engine and collects what it answers. */
final class Turns {
    private Turns() {}

    /** What one turn produced. */
    record Answer(String text, ModelResult result) {
        long input() {
            return result.usage().inputTokens();
        }

        long cached() {
            return result.usage().cachedTokens();
        }
    }

    static ModelRequest request(String session, boolean persistent, List<ChatMessage> messages, int maxOutput) {
        return new ModelRequest(
                "tiny", session, persistent, messages, List.of(), null, null, 0.0, null, maxOutput, null, null);
    }

    static Answer run(EmbeddedBackend backend, ModelRequest request) throws Exception {
        StringBuilder text = new StringBuilder();
        ModelResult result = backend.generate(request, new ModelSink() {
            @Override
            public void text(String delta) {
                text.append(delta);
            }

            @Override
            public void toolCall(int index, String callId, String name) {}

            @Override
            public void toolArguments(int index, String delta) {}
        });
        return new Answer(text.toString(), result);
    }

    /** A conversation: a system prompt and {@code users} user messages with the given answers between. */
    static List<ChatMessage> conversation(List<String> users, List<String> answers) {
        List<ChatMessage> out = new ArrayList<>();
        out.add(new ChatMessage.System("You are a test."));
        for (int i = 0; i < users.size(); i++) {
            out.add(new ChatMessage.User(users.get(i)));
            if (i < answers.size()) out.add(new ChatMessage.Assistant(answers.get(i), List.of()));
        }
        return out;
    }

    /** Waits up to 10 s for {@code condition} (something another thread does). */
    static void waitFor(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not reached within 10 s");
            Thread.sleep(10);
        }
    }

    /** Deterministic filler text of roughly {@code words} words. */
    static String words(int words, int seed) {
        String[] pool = {"alpha", "river", "stone", "quiet", "ember", "lattice", "north", "velvet", "orbit", "cedar"};
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++)
            sb.append(pool[(i * 7 + seed * 13 + i / 3) % pool.length]).append(' ');
        return sb.toString().strip();
    }
}
