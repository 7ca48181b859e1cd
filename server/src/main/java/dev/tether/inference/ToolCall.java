package dev.tether.inference;

import java.util.Objects;

/** A function call the assistant made: its id, the function and the JSON arguments. */
public record ToolCall(String callId, String name, String arguments) {
    public ToolCall {
        Objects.requireNonNull(callId, "callId");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(arguments, "arguments");
    }
}
