package dev.tether.examples;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseStreamEvent;
import dev.tether.client.AgentSession;
import dev.tether.client.Run;
import dev.tether.client.TetherClient;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * An external agent for a Tether session: it answers each user message with the official
 * {@code openai-java} client calling Tether's own Responses API (chained by {@code
 * previous_response_id}, so the model backend keeps the conversation), streams the answer into a
 * session run, and asks the session's operators to approve its one guarded tool, {@code refund}.
 *
 * <pre>
 *   TETHER_URL=http://127.0.0.1:4437 TETHER_KEY=... java ... dev.tether.examples.SupportAgent [session-id]
 * </pre>
 *
 * Without a session id it creates one and prints it.
 */
public final class SupportAgent {
    private static final FunctionTool REFUND = FunctionTool.builder()
            .name("refund")
            .description("Refund an order. Needs an operator's approval.")
            .parameters(FunctionTool.Parameters.builder()
                    .putAdditionalProperty("type", JsonValue.from("object"))
                    .putAdditionalProperty(
                            "properties", JsonValue.from(java.util.Map.of("order", java.util.Map.of("type", "string"))))
                    .build())
            .strict(false)
            .build();

    private final OpenAIClient openai;
    private final String model;
    /** The session's last response: each turn continues it. */
    private String previous;

    private SupportAgent(OpenAIClient openai, String model) {
        this.openai = openai;
        this.model = model;
    }

    public static void main(String[] args) throws Exception {
        String base = System.getenv().getOrDefault("TETHER_URL", "http://127.0.0.1:4437");
        String key = System.getenv("TETHER_KEY");
        TetherClient tether =
                key == null ? TetherClient.of(URI.create(base)) : TetherClient.of(URI.create(base), () -> key);
        String session = args.length > 0 ? args[0] : tether.createSession(null);
        System.out.println("answering session " + session);
        try (AgentSession s = start(tether, base, key, session, System.getenv().getOrDefault("TETHER_MODEL", "demo"))) {
            System.out.println("joined " + s.id() + " as its agent; Ctrl-C to stop");
            Thread.currentThread().join();
        }
    }

    /**
     * Joins {@code session} as its agent and answers every user message through Tether's Responses
     * API at {@code base} with {@code model}; close the returned session to stop.
     */
    public static AgentSession start(TetherClient tether, String base, String key, String session, String model) {
        OpenAIClient openai = OpenAIOkHttpClient.builder()
                .baseUrl(base + "/v1")
                .apiKey(key == null ? "unused" : key)
                .build();
        SupportAgent agent = new SupportAgent(openai, model);
        return tether.joinAsAgent(session, "Support agent", agent::answer);
    }

    private void answer(AgentSession session, AgentSession.Message message) throws Exception {
        try (Run run = session.startRun(message.id())) {
            List<ResponseInputItem> toolOutputs = List.of();
            String input = message.content();
            while (run.active()) {
                List<ResponseFunctionToolCall> calls = new ArrayList<>();
                ResponseCreateParams.Builder params =
                        ResponseCreateParams.builder().model(model).addTool(REFUND);
                if (previous != null) {
                    params.previousResponseId(previous);
                }
                if (toolOutputs.isEmpty()) {
                    params.input(input);
                } else {
                    params.inputOfResponse(toolOutputs);
                }
                try (StreamResponse<ResponseStreamEvent> events =
                        openai.responses().createStreaming(params.build())) {
                    events.stream().forEach(e -> {
                        e.outputTextDelta().ifPresent(d -> run.write(d.delta()));
                        e.outputItemDone().flatMap(d -> d.item().functionCall()).ifPresent(calls::add);
                        e.completed().ifPresent(c -> previous = c.response().id());
                    });
                }
                if (calls.isEmpty()) {
                    return; // the run completes when it closes
                }
                toolOutputs = new ArrayList<>();
                for (ResponseFunctionToolCall call : calls) {
                    Run.ToolCall guarded = run.requestApproval(call.name(), call.arguments());
                    String output =
                            guarded.decision().get() ? "refunded" : "not allowed: an operator denied the refund";
                    run.toolOutput(guarded.id(), output);
                    toolOutputs.add(
                            ResponseInputItem.ofFunctionCallOutput(ResponseInputItem.FunctionCallOutput.builder()
                                    .callId(call.callId())
                                    .output(output)
                                    .build()));
                }
            }
        }
    }
}
