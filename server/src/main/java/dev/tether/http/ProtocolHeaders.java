package dev.tether.http;

import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;

/** Header names of the Durable Streams protocol and the headers every response carries. */
final class ProtocolHeaders {
    private ProtocolHeaders() {}

    static final String NEXT_OFFSET = "Stream-Next-Offset";
    static final String UP_TO_DATE = "Stream-Up-To-Date";
    static final String CURSOR = "Stream-Cursor";
    static final String CLOSED = "Stream-Closed";
    static final String TTL = "Stream-TTL";
    static final String EXPIRES_AT = "Stream-Expires-At";
    static final String SEQ = "Stream-Seq";
    static final String PRODUCER_ID = "Producer-Id";
    static final String PRODUCER_EPOCH = "Producer-Epoch";
    static final String PRODUCER_SEQ = "Producer-Seq";
    static final String PRODUCER_EXPECTED_SEQ = "Producer-Expected-Seq";
    static final String PRODUCER_RECEIVED_SEQ = "Producer-Received-Seq";
    static final String FORKED_FROM = "Stream-Forked-From";
    static final String FORK_OFFSET = "Stream-Fork-Offset";
    static final String FORK_SUB_OFFSET = "Stream-Fork-Sub-Offset";
    static final String SSE_ENCODING = "Stream-SSE-Data-Encoding";

    private static final String ALLOW_HEADERS = String.join(
            ", ",
            "Content-Type",
            "Authorization",
            SEQ,
            TTL,
            EXPIRES_AT,
            CLOSED,
            PRODUCER_ID,
            PRODUCER_EPOCH,
            PRODUCER_SEQ,
            FORKED_FROM,
            FORK_OFFSET,
            FORK_SUB_OFFSET,
            "If-None-Match",
            "Last-Event-ID",
            "X-Request-Id");
    private static final String EXPOSE_HEADERS = String.join(
            ", ",
            NEXT_OFFSET,
            CURSOR,
            UP_TO_DATE,
            CLOSED,
            PRODUCER_EPOCH,
            PRODUCER_SEQ,
            PRODUCER_EXPECTED_SEQ,
            PRODUCER_RECEIVED_SEQ,
            TTL,
            EXPIRES_AT,
            SSE_ENCODING,
            "ETag",
            "Content-Type",
            "Content-Encoding",
            "Location",
            "Retry-After",
            "Vary",
            "WWW-Authenticate",
            "X-Request-Id");

    /**
     * Durable Streams §12: on every response, errors and streams included. Which origins may read
     * the response ({@code Access-Control-Allow-Origin}) is the {@link OriginPolicy}'s decision.
     */
    static void security(HttpServerResponse response) {
        response.putHeader(NOSNIFF_NAME, NOSNIFF);
        response.putHeader(CORP_NAME, CORP);
        response.putHeader(EXPOSE_NAME, EXPOSE);
    }

    // Pre-encoded (ASCII, validated once): the headers every response carries are copied as bytes
    // instead of validated and encoded character by character on each response.
    private static final CharSequence NOSNIFF_NAME = HttpHeaders.createOptimized("X-Content-Type-Options");
    private static final CharSequence NOSNIFF = HttpHeaders.createOptimized("nosniff");
    private static final CharSequence CORP_NAME = HttpHeaders.createOptimized("Cross-Origin-Resource-Policy");
    private static final CharSequence CORP = HttpHeaders.createOptimized("cross-origin");
    private static final CharSequence EXPOSE_NAME = HttpHeaders.createOptimized("Access-Control-Expose-Headers");
    private static final CharSequence EXPOSE = HttpHeaders.createOptimized(EXPOSE_HEADERS);
    /** {@link #NEXT_OFFSET}, pre-encoded for the append path's responses. */
    static final CharSequence NEXT_OFFSET_NAME = HttpHeaders.createOptimized(NEXT_OFFSET);

    /** CORS preflight: the suite checks that If-None-Match may be sent. */
    static void preflight(HttpServerResponse response) {
        response.putHeader("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, HEAD, OPTIONS");
        response.putHeader("Access-Control-Allow-Headers", ALLOW_HEADERS);
        response.putHeader("Access-Control-Max-Age", "86400");
    }
}
