package dev.tether.responses;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Renders the {@code Response} object with every field the spec requires, in a stable order. */
final class ResponseJson {
    private ResponseJson() {}

    static ObjectNode render(ResponseRecord r) {
        return render(r, null);
    }

    /**
     * {@link #render(ResponseRecord)}, with the request's {@code instructions} and {@code tools}
     * taken from {@code echo} (null: rendered here): the same bytes once serialized.
     */
    static ObjectNode render(ResponseRecord r, Echo echo) {
        ResponseParams p = r.params();
        ObjectNode o = Json.object();
        o.put("id", r.id());
        o.put("object", "response");
        o.put("created_at", r.createdAt());
        o.put("status", r.status().json());
        o.put("background", p.background());
        o.set("error", r.error());
        if (r.incomplete() == null) {
            o.putNull("incomplete_details");
        } else {
            o.putObject("incomplete_details").put("reason", r.incomplete());
        }
        if (echo != null && echo.instructions() != null) {
            o.putRawValue("instructions", echo.instructions());
        } else {
            o.put("instructions", p.instructions());
        }
        o.put("max_output_tokens", p.maxOutputTokens());
        o.put("model", p.model());
        ArrayNode output = o.putArray("output");
        r.output().forEach(output::add);
        o.put("parallel_tool_calls", p.parallelToolCalls() == null || p.parallelToolCalls());
        o.put("previous_response_id", p.previousResponseId());
        if (p.conversationId() == null) {
            o.putNull("conversation");
        } else {
            o.putObject("conversation").put("id", p.conversationId());
        }
        o.put("store", p.store());
        o.put("temperature", p.temperature() == null ? 1.0 : p.temperature());
        if (p.textFormat() != null) {
            o.putObject("text").set("format", p.textFormat());
        } else {
            o.putObject("text").putObject("format").put("type", "text");
        }
        o.set(
                "tool_choice",
                p.toolChoice() == null ? Json.MAPPER.getNodeFactory().textNode("auto") : p.toolChoice());
        if (echo != null && echo.tools() != null) {
            o.putRawValue("tools", echo.tools());
        } else {
            o.set("tools", p.tools());
        }
        o.put("top_p", p.topP() == null ? 1.0 : p.topP());
        o.set(
                "top_logprobs",
                p.source().path("top_logprobs").isIntegralNumber() ? p.source().get("top_logprobs") : null);
        o.put("truncation", p.truncateAuto() ? "auto" : "disabled");
        if (p.compactThreshold() != null) {
            o.set("context_management", p.source().get("context_management"));
        }
        o.set("usage", r.usage());
        o.set("metadata", p.metadata());
        o.put("completed_at", r.completedAt());
        return o;
    }

    static ObjectNode usage(long input, long cached, long output) {
        ObjectNode u = Json.object();
        u.put("input_tokens", input);
        u.putObject("input_tokens_details").put("cached_tokens", cached);
        u.put("output_tokens", output);
        u.putObject("output_tokens_details").put("reasoning_tokens", 0);
        u.put("total_tokens", input + output);
        return u;
    }

    /**
     * A request's {@code instructions} and {@code tools} as JSON, serialized once and then copied
     * as bytes into each event that echoes them (a run's {@code response.created}, {@code
     * response.in_progress} and terminal event): they are most of those events, and on the agent
     * trace of bench/responses (10.6 kB of them every turn) escaping them for each event took
     * 93–151 µs of a turn's CPU, against 55–68 µs with them written once ({@code
     * bench/responses/steps}, docs/benchmarks.md).
     */
    record Echo(RawValue instructions, RawValue tools) {
        static Echo of(ResponseParams p) {
            return new Echo(
                    p.instructions() == null ? null : raw(p.instructions()), p.tools() == null ? null : raw(p.tools()));
        }

        /** The value's JSON, as the events' own generator writes it, kept as those bytes. */
        private static RawValue raw(Object value) {
            try {
                return new RawValue(new Utf8(Json.MAPPER.writeValueAsBytes(value)));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot serialize a string or a tree of plain nodes", e);
            }
        }
    }

    /**
     * JSON already written, as UTF-8: the events' generator ({@code writeRawValue}) copies the
     * bytes. Only a char-based generator, which the events do not use, needs them as text (decoded
     * then, once).
     */
    private static final class Utf8 implements SerializableString {
        private final byte[] bytes;
        private SerializedString text;

        Utf8(byte[] bytes) {
            this.bytes = bytes;
        }

        private SerializedString text() {
            if (text == null) {
                text = new SerializedString(new String(bytes, StandardCharsets.UTF_8));
            }
            return text;
        }

        @Override
        public int appendUnquotedUTF8(byte[] buffer, int offset) {
            if (offset + bytes.length > buffer.length) {
                return -1;
            }
            System.arraycopy(bytes, 0, buffer, offset, bytes.length);
            return bytes.length;
        }

        @Override
        public byte[] asUnquotedUTF8() {
            return bytes.clone();
        }

        @Override
        public int writeUnquotedUTF8(OutputStream out) throws IOException {
            out.write(bytes);
            return bytes.length;
        }

        @Override
        public int putUnquotedUTF8(ByteBuffer buffer) {
            if (bytes.length > buffer.remaining()) {
                return -1;
            }
            buffer.put(bytes);
            return bytes.length;
        }

        @Override
        public String getValue() {
            return text().getValue();
        }

        @Override
        public int charLength() {
            return text().charLength();
        }

        @Override
        public char[] asQuotedChars() {
            return text().asQuotedChars();
        }

        @Override
        public byte[] asQuotedUTF8() {
            return text().asQuotedUTF8();
        }

        @Override
        public int appendQuotedUTF8(byte[] buffer, int offset) {
            return text().appendQuotedUTF8(buffer, offset);
        }

        @Override
        public int appendQuoted(char[] buffer, int offset) {
            return text().appendQuoted(buffer, offset);
        }

        @Override
        public int appendUnquoted(char[] buffer, int offset) {
            return text().appendUnquoted(buffer, offset);
        }

        @Override
        public int writeQuotedUTF8(OutputStream out) throws IOException {
            return text().writeQuotedUTF8(out);
        }

        @Override
        public int putQuotedUTF8(ByteBuffer buffer) throws IOException {
            return text().putQuotedUTF8(buffer);
        }
    }
}
