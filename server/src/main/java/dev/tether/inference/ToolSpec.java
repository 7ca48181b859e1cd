package dev.tether.inference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * A function the model may call.
 *
 * @param parameters JSON Schema of the arguments, or null
 * @param strict     whether the arguments must match the schema exactly, or null
 */
public record ToolSpec(String name, String description, JsonNode parameters, Boolean strict) {
    public ToolSpec {
        Objects.requireNonNull(name, "name");
    }
}
