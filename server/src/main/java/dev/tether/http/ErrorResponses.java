package dev.tether.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.http.ErrorTable.Problem;
import dev.tether.stream.Offset;
import dev.tether.stream.Rejection;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.util.Map;

/**
 * Renders {@link ErrorTable} problems in the Durable Streams envelope, {@code
 * {"error":{"code","message","request_id"}}}, with the protocol's headers for engine rejections
 * (the closed stream's tail, a producer's expected sequence or current epoch).
 *
 * <p>Stateless; call on the response's event loop.
 */
final class ErrorResponses {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ErrorResponses() {}

    static void send(HttpServerResponse response, Rejection rejection) {
        Map<String, String> protocol =
                switch (rejection) {
                    case Rejection.StreamClosed r ->
                        Map.of(
                                ProtocolHeaders.CLOSED,
                                "true",
                                ProtocolHeaders.NEXT_OFFSET,
                                Offset.tail(r.stream()).toString());
                    case Rejection.SequenceGap r ->
                        Map.of(
                                ProtocolHeaders.PRODUCER_EXPECTED_SEQ,
                                Long.toString(r.expected()),
                                ProtocolHeaders.PRODUCER_RECEIVED_SEQ,
                                Long.toString(r.received()));
                    case Rejection.StaleEpoch r ->
                        Map.of(ProtocolHeaders.PRODUCER_EPOCH, Long.toString(r.currentEpoch()));
                    case Rejection.Invalid r -> Map.of();
                    case Rejection.NotFound r -> Map.of();
                    case Rejection.Gone r -> Map.of();
                    case Rejection.Conflict r -> Map.of();
                    case Rejection.Unavailable r -> Map.of();
                };
        write(response, ErrorTable.describe(rejection), protocol);
    }

    static void send(HttpServerResponse response, Throwable failure) {
        if (response.headWritten()) {
            response.reset(); // too late for a status: the client sees the stream cut and resumes
            return;
        }
        write(response, ErrorTable.describe(failure, RequestIds.of(response)), Map.of());
    }

    private static void write(HttpServerResponse response, Problem problem, Map<String, String> protocol) {
        if (response.ended() || response.closed()) {
            return;
        }
        HttpMetrics.current().problem(problem);
        ObjectNode body = JSON.createObjectNode();
        ObjectNode error = body.putObject("error");
        error.put("code", problem.code());
        error.put("message", problem.message());
        error.put("request_id", RequestIds.of(response));
        response.setStatusCode(problem.status());
        ProtocolHeaders.security(response);
        problem.headers().forEach(response::putHeader);
        protocol.forEach(response::putHeader);
        response.putHeader("Content-Type", "application/json");
        response.putHeader("Cache-Control", "no-store");
        response.end(Buffer.buffer(body.toString()));
    }
}
