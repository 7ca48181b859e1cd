package dev.tether.http;

import dev.tether.errors.Refusal;
import dev.tether.store.StreamRecord;
import dev.tether.store.StreamRecord.ProducerTuple;
import dev.tether.stream.AppendRequest;
import dev.tether.stream.AppendResult;
import dev.tether.stream.ContentTypes;
import dev.tether.stream.CreateRequest;
import dev.tether.stream.CreateResult;
import dev.tether.stream.DeleteResult;
import dev.tether.stream.Lookup;
import dev.tether.stream.Offset;
import dev.tether.stream.Rejection;
import dev.tether.stream.StreamEngine;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;

/**
 * PUT (create), POST (append/close) and DELETE on {@code /v1/stream/<path>} (Durable Streams
 * §5.1–5.4). Responses are sent only after the engine reports the write durable.
 *
 * <p>Stateless; each request runs on its connection's event loop.
 */
final class WriteHandler {
    private final StreamEngine engine;
    private final Bodies.Limit bodyLimit;

    WriteHandler(StreamEngine engine, Bodies.Limit bodyLimit) {
        this.engine = engine;
        this.bodyLimit = bodyLimit;
    }

    void create(HttpServerRequest req, String path) {
        Long ttl = StreamRequests.ttl(req);
        Long expiresAt = StreamRequests.expiresAt(req);
        if (ttl != null && expiresAt != null) {
            throw Refusal.invalid("send either Stream-TTL or Stream-Expires-At, not both");
        }
        CreateRequest.Fork fork = fork(req);
        String contentType = req.getHeader("Content-Type");
        boolean closed = StreamRequests.closed(req);
        Bodies.collect(req, bodyLimit)
                .compose(body -> {
                    var request = new CreateRequest(
                            path,
                            contentType,
                            ttl,
                            expiresAt,
                            closed,
                            messages(body, effectiveType(contentType, fork), true),
                            fork);
                    return LoopExecutor.current().adapt(engine.create(request));
                })
                .onSuccess(result -> created(req, path, result))
                .onFailure(t -> ErrorResponses.send(req.response(), t));
    }

    private static CreateRequest.Fork fork(HttpServerRequest req) {
        String source = req.getHeader(ProtocolHeaders.FORKED_FROM);
        String offset = req.getHeader(ProtocolHeaders.FORK_OFFSET);
        Long subOffset = StreamRequests.subOffset(req.getHeader(ProtocolHeaders.FORK_SUB_OFFSET));
        if (source == null) {
            if (offset != null || subOffset != null) {
                throw Refusal.invalid("Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From");
            }
            return null;
        }
        Offset at = offset == null ? null : StreamRequests.offset("Stream-Fork-Offset", offset.trim());
        return new CreateRequest.Fork(StreamRequests.forkSource(source), at, subOffset);
    }

    /** The type the body is parsed as: the request's, else the fork source's, else the default. */
    private String effectiveType(String requested, CreateRequest.Fork fork) {
        if (requested != null) {
            return requested;
        }
        if (fork != null && engine.peek(fork.sourcePath()) instanceof Lookup.Found found) {
            return found.stream().contentType();
        }
        return ContentTypes.DEFAULT;
    }

    private static void created(HttpServerRequest req, String path, CreateResult result) {
        HttpServerResponse res = req.response();
        switch (result) {
            case CreateResult.Created c -> {
                res.setStatusCode(201);
                res.putHeader("Location", location(req));
                streamHeaders(res, c.stream());
            }
            case CreateResult.Existing e -> {
                res.setStatusCode(200);
                streamHeaders(res, e.stream());
            }
            case Rejection r -> {
                ErrorResponses.send(res, r);
                return;
            }
        }
        ProtocolHeaders.security(res);
        res.end();
    }

    private static String location(HttpServerRequest req) {
        String uri = req.absoluteURI();
        int query = uri.indexOf('?');
        return query < 0 ? uri : uri.substring(0, query);
    }

    void append(HttpServerRequest req, String path) {
        var producer = StreamRequests.producer(req);
        String seq = req.getHeader(ProtocolHeaders.SEQ);
        boolean close = StreamRequests.closed(req);
        String contentType = req.getHeader("Content-Type");
        Bodies.collect(req, bodyLimit)
                .map(body -> appendRequest(path, contentType, close, producer, seq, body))
                .compose(request -> LoopExecutor.current()
                        .adapt(engine.append(request))
                        .onSuccess(result -> appended(req.response(), result, request.hasData())))
                .onFailure(t -> ErrorResponses.send(req.response(), t));
    }

    private AppendRequest appendRequest(
            String path, String contentType, boolean close, ProducerTuple producer, String seq, Buffer body) {
        if (body.length() == 0 && !close) {
            throw Refusal.invalid("an append needs a body (or Stream-Closed: true to close the stream)");
        }
        if (body.length() > 0 && contentType == null) {
            throw Refusal.invalid("an append with a body needs a Content-Type header");
        }
        List<byte[]> messages = body.length() == 0 ? List.of() : appendMessages(path, contentType, body);
        return new AppendRequest(path, body.length() == 0 ? null : contentType, messages, close, producer, seq);
    }

    /**
     * JSON bodies are split into messages only for JSON streams; anything else is one message
     * and the engine answers the mismatch or missing stream with the right status.
     */
    private List<byte[]> appendMessages(String path, String contentType, Buffer body) {
        boolean jsonStream = engine.peek(path) instanceof Lookup.Found f
                && ContentTypes.isJson(f.stream().contentType());
        if (jsonStream && ContentTypes.isJson(contentType)) {
            return JsonMessages.split(body.getBytes(), false);
        }
        return List.of(body.getBytes());
    }

    /** §5.2.1: 200 when a producer's data was written; 204 for plain appends and close-only requests. */
    private static void appended(HttpServerResponse res, AppendResult result, boolean wroteData) {
        switch (result) {
            case AppendResult.Appended a -> {
                res.setStatusCode(a.producer() != null && wroteData ? 200 : 204);
                res.putHeader(
                        ProtocolHeaders.NEXT_OFFSET_NAME,
                        Offset.tail(a.stream()).toString());
                if (a.producer() != null) {
                    res.putHeader(
                            ProtocolHeaders.PRODUCER_EPOCH,
                            Long.toString(a.producer().epoch()));
                    res.putHeader(
                            ProtocolHeaders.PRODUCER_SEQ,
                            Long.toString(a.producer().seq()));
                }
                closedHeader(res, a.stream());
            }
            case AppendResult.Duplicate d -> {
                res.setStatusCode(204);
                res.putHeader(
                        ProtocolHeaders.NEXT_OFFSET, Offset.tail(d.stream()).toString());
                res.putHeader(ProtocolHeaders.PRODUCER_EPOCH, Long.toString(d.epoch()));
                res.putHeader(ProtocolHeaders.PRODUCER_SEQ, Long.toString(d.highestSeq()));
                closedHeader(res, d.stream());
            }
            case Rejection r -> {
                ErrorResponses.send(res, r);
                return;
            }
        }
        ProtocolHeaders.security(res);
        res.end();
    }

    void delete(HttpServerRequest req, String path) {
        LoopExecutor.current()
                .adapt(engine.delete(path))
                .onSuccess(result -> {
                    switch (result) {
                        case DeleteResult.Deleted d -> {
                            ProtocolHeaders.security(req.response());
                            req.response().setStatusCode(204).end();
                        }
                        case Rejection r -> ErrorResponses.send(req.response(), r);
                    }
                })
                .onFailure(t -> ErrorResponses.send(req.response(), t));
    }

    private static List<byte[]> messages(Buffer body, String contentType, boolean allowEmptyArray) {
        if (body.length() == 0) {
            return List.of();
        }
        if (ContentTypes.isJson(contentType)) {
            return JsonMessages.split(body.getBytes(), allowEmptyArray);
        }
        return List.of(body.getBytes());
    }

    static void streamHeaders(HttpServerResponse res, StreamRecord stream) {
        res.putHeader("Content-Type", stream.contentType());
        res.putHeader(ProtocolHeaders.NEXT_OFFSET, Offset.tail(stream).toString());
        closedHeader(res, stream);
    }

    static void closedHeader(HttpServerResponse res, StreamRecord stream) {
        if (stream.closed()) {
            res.putHeader(ProtocolHeaders.CLOSED, "true");
        }
    }
}
