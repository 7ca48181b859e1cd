package dev.tether.inference;

import java.util.List;
import java.util.Objects;

/** One message of the context a backend sees, in the neutral shape every backend can render. */
public sealed interface ChatMessage {

    /** Instructions (system or developer role). */
    record System(String text) implements ChatMessage {
        public System {
            Objects.requireNonNull(text, "text");
        }
    }

    /** What the user said. */
    record User(String text) implements ChatMessage {
        public User {
            Objects.requireNonNull(text, "text");
        }
    }

    /** An assistant turn: text (possibly empty) and the tool calls it made. */
    record Assistant(String text, List<ToolCall> toolCalls) implements ChatMessage {
        public Assistant {
            Objects.requireNonNull(text, "text");
            toolCalls = List.copyOf(toolCalls);
        }
    }

    /** The output of tool call {@code callId}. */
    record ToolResult(String callId, String output) implements ChatMessage {
        public ToolResult {
            Objects.requireNonNull(callId, "callId");
            Objects.requireNonNull(output, "output");
        }
    }
}
