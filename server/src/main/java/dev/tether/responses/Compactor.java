package dev.tether.responses;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.errors.Refusal;
import dev.tether.inference.ChatMessage;
import dev.tether.inference.ModelBackend;
import dev.tether.inference.ModelException;
import dev.tether.inference.ModelRequest;
import dev.tether.inference.ModelResult;
import dev.tether.inference.ModelSink;
import java.util.ArrayList;
import java.util.List;

/**
 * Compacts a context: the backend model, asked through the ordinary {@link ModelBackend}, writes
 * a summary of everything before the latest user message, which becomes a {@link Compaction}
 * item; the latest turn (that message and what follows it) is kept verbatim. Serves {@code POST
 * /v1/responses/compact} and automatic compaction ({@code context_management}).
 *
 * <p>Thread-safe (stateless apart from the backend); {@link #compact} blocks while the model writes.
 */
final class Compactor {
    /** The request that ends the summarising turn, after the context to summarise. */
    static final String SUMMARISE = "Summarise the conversation so far so that it can continue from your summary"
            + " alone, without the messages themselves: the user's goals and constraints, decisions made, facts and"
            + " tool results that still matter, and what remains to be done. Write only the summary.";

    private final ModelBackend backend;

    Compactor(ModelBackend backend) {
        this.backend = backend;
    }

    /**
     * A compacted window: the compaction item, then the items kept verbatim; {@code usage} is
     * what writing the summary cost.
     */
    record Compacted(ObjectNode item, List<ObjectNode> kept, ModelResult.Usage usage) {
        Compacted {
            kept = List.copyOf(kept);
        }

        List<ObjectNode> window() {
            List<ObjectNode> w = new ArrayList<>(kept.size() + 1);
            w.add(item);
            w.addAll(kept);
            return w;
        }

        /** The {@code response.compaction} object of {@code POST /v1/responses/compact}. */
        ObjectNode toJson(String id, long createdAt) {
            ObjectNode o = Json.object().put("id", id).put("object", "response.compaction");
            o.put("created_at", createdAt);
            ArrayNode output = o.putArray("output");
            window().forEach(output::add);
            o.set("usage", ResponseJson.usage(usage.inputTokens(), usage.cachedTokens(), usage.outputTokens()));
            return o;
        }
    }

    /** A turn's context after automatic compaction: what to generate from, and what the run outputs first. */
    record Done(ModelRequest request, ObjectNode item, ModelResult.Usage usage) {}

    /** What a run does before generating: null to generate from the request as it is. */
    @FunctionalInterface
    interface Before {
        Done apply(ModelRequest request) throws ModelException, InterruptedException;
    }

    /** A turn that also wrote a summary costs both. */
    static ModelResult.Usage sum(ModelResult.Usage a, ModelResult.Usage b) {
        return new ModelResult.Usage(
                a.inputTokens() + b.inputTokens(),
                a.cachedTokens() + b.cachedTokens(),
                a.outputTokens() + b.outputTokens());
    }

    /**
     * Compacts {@code items} (a whole context: chain and input) for a turn of {@code p}, or
     * returns null when there is nothing before the latest user message to compact (or only an
     * earlier compaction).
     */
    Compacted compact(ResponseParams p, String sessionKey, boolean persistent, List<ObjectNode> items)
            throws ModelException, InterruptedException {
        List<ObjectNode> window = Compaction.window(items);
        int kept = window.size() - 1;
        while (kept >= 0 && !isUserMessage(window.get(kept))) {
            kept--;
        }
        List<ObjectNode> prefix = window.subList(0, Math.max(kept, 0));
        if (prefix.isEmpty()
                || (prefix.size() == 1
                        && prefix.getFirst().path("type").asText().equals(Compaction.TYPE))) {
            return null;
        }
        List<ChatMessage> messages;
        try {
            messages = new ArrayList<>(ContextAssembler.assemble(p.instructions(), prefix));
        } catch (Refusal e) {
            throw new ModelException(
                    ModelException.Kind.INVALID_REQUEST, "The context cannot be compacted here: " + e.getMessage());
        }
        messages.add(new ChatMessage.User(SUMMARISE));
        ModelRequest summarise = new ModelRequest(
                p.model(),
                sessionKey,
                persistent,
                messages,
                List.of(),
                null,
                null,
                p.temperature(),
                p.topP(),
                p.maxOutputTokens(),
                null,
                null);
        StringBuilder summary = new StringBuilder();
        ModelResult result = backend.generate(summarise, new ModelSink() {
            @Override
            public void text(String delta) {
                summary.append(delta);
            }

            @Override
            public void toolCall(int index, String callId, String name) {} // no tools offered: ignored

            @Override
            public void toolArguments(int index, String delta) {}
        });
        String through = prefix.getLast().path("id").asText(null);
        return new Compacted(
                Compaction.item(summary.toString().strip(), through),
                window.subList(kept, window.size()),
                result.usage());
    }

    /**
     * Automatic compaction before a turn: when {@code request}'s context takes more than {@code
     * threshold} tokens, compacts {@code items} (the same context as items) and returns the
     * request for the compacted window; null when the context is within the threshold or there is
     * nothing to compact.
     */
    Done ifOver(int threshold, ResponseParams p, ModelRequest request, List<ObjectNode> items)
            throws ModelException, InterruptedException {
        if (tokens(request) <= threshold) {
            return null;
        }
        Compacted c = compact(p, request.sessionKey(), request.persistent(), items);
        if (c == null) {
            return null;
        }
        ModelRequest compacted = request.withMessages(ContextAssembler.assemble(p.instructions(), c.window()));
        return new Done(compacted, c.item(), c.usage());
    }

    /**
     * The tokens {@code request}'s context takes: exact when the backend can count (the embedded
     * engine), else an estimate of one token per four characters of text (a Chat Completions
     * upstream has no tokenizer Tether can ask).
     */
    int tokens(ModelRequest request) throws ModelException {
        Integer exact = backend.countInputTokens(request);
        return exact != null ? exact : estimate(request);
    }

    static int estimate(ModelRequest request) {
        long chars = 0;
        for (ChatMessage m : request.messages()) {
            chars += switch (m) {
                case ChatMessage.System s -> s.text().length();
                case ChatMessage.User u -> u.text().length();
                case ChatMessage.Assistant a ->
                    a.text().length()
                            + a.toolCalls().stream()
                                    .mapToLong(c ->
                                            c.name().length() + c.arguments().length())
                                    .sum();
                case ChatMessage.ToolResult r -> r.output().length();
            };
        }
        return (int) Math.min(Integer.MAX_VALUE, (chars + 3) / 4);
    }

    private static boolean isUserMessage(ObjectNode item) {
        return item.path("type").asText().equals("message")
                && item.path("role").asText().equals("user");
    }
}
