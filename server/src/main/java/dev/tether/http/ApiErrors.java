package dev.tether.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.http.ErrorTable.Problem;
import dev.tether.responses.Json;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;

/**
 * Renders {@link ErrorTable} problems in OpenAI's error envelope, {@code
 * {"error":{"message","type","param","code"}}} (plus Tether's {@code request_id}), on the
 * OpenAI-compatible endpoints and as Responses WebSocket {@code error} frames. The SDKs read the
 * status, {@code code} and {@code param} from it.
 *
 * <p>Stateless; {@link #send} runs on the response's event loop.
 */
final class ApiErrors {
    private ApiErrors() {}

    static void send(HttpServerResponse res, Throwable failure) {
        if (res.headWritten()) {
            res.reset();
            return;
        }
        if (res.ended() || res.closed()) {
            return;
        }
        String requestId = RequestIds.of(res);
        Problem p = ErrorTable.describe(failure, requestId);
        HttpMetrics.current().problem(p);
        ProtocolHeaders.security(res);
        p.headers().forEach(res::putHeader);
        res.setStatusCode(p.status())
                .putHeader("Content-Type", "application/json")
                .putHeader("Cache-Control", "no-store")
                .end(Buffer.buffer(Json.bytes(envelope(p, requestId))));
    }

    static ObjectNode envelope(Problem p, String requestId) {
        ObjectNode body = Json.object();
        body.set("error", error(p).put("request_id", requestId));
        return body;
    }

    /**
     * A Responses WebSocket {@code error} frame: {@code {"type":"error","status",…,"error":{…}}},
     * tagged with the lane's {@code stream_id} when it has one.
     */
    static byte[] frame(String streamId, Throwable failure, String connectionId) {
        return frame("stream_id", streamId, failure, connectionId);
    }

    /** An {@code error} frame tagged with {@code tag: value} (a lane, a client's {@code ref}) when value is not null. */
    static byte[] frame(String tag, String value, Throwable failure, String connectionId) {
        Problem p = ErrorTable.describe(failure, connectionId);
        HttpMetrics.current().problem(p);
        ObjectNode frame = Json.object().put("type", "error").put("status", p.status());
        if (value != null) {
            frame.put(tag, value);
        }
        frame.set("error", error(p));
        return Json.bytes(frame);
    }

    /**
     * A Responses WebSocket {@code response.steer.failed} event: the {@link #frame} envelope, typed
     * for the steer of {@code responseId} it answers.
     */
    static byte[] steerFailed(String streamId, String responseId, Throwable failure, String connectionId) {
        Problem p = ErrorTable.describe(failure, connectionId);
        HttpMetrics.current().problem(p);
        ObjectNode frame = Json.object().put("type", "response.steer.failed").put("status", p.status());
        if (streamId != null) {
            frame.put("stream_id", streamId);
        }
        frame.put("previous_response_id", responseId);
        frame.set("error", error(p));
        return Json.bytes(frame);
    }

    private static ObjectNode error(Problem p) {
        ObjectNode error = Json.object();
        error.put("message", p.message());
        error.put("type", p.type());
        error.put("param", p.param());
        error.put("code", p.code());
        return error;
    }
}
