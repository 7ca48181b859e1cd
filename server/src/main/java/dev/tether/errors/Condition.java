package dev.tether.errors;

/**
 * Why Tether refuses or fails a request, independent of any transport. Each condition maps to
 * exactly one HTTP status, error code default and retry policy in one table ({@code
 * http/ErrorTable}); the Durable Streams and OpenAI error envelopes and the WebSocket error frames
 * are renderings of that table, so the same condition looks the same on every API.
 */
public enum Condition {
    /** The request is malformed or names something in a way that cannot work. */
    INVALID,
    /** No credentials, or credentials that are expired, badly signed or unknown. */
    UNAUTHENTICATED,
    /** Valid credentials without the capability the request needs, or a write to a read-only namespace. */
    FORBIDDEN,
    /** Nothing by that name exists for this caller. */
    NOT_FOUND,
    /** The resource exists but does not support the method. */
    METHOD_NOT_ALLOWED,
    /** The request contradicts the state of the resource. */
    CONFLICT,
    /** The resource existed but is gone for good. */
    GONE,
    /** The request body is larger than allowed. */
    TOO_LARGE,
    /** The request target is longer than allowed. */
    URI_TOO_LONG,
    /** The request's headers are larger than allowed. */
    HEADERS_TOO_LARGE,
    /** The endpoint needs a protocol upgrade (WebSocket). */
    UPGRADE_REQUIRED,
    /** A per-caller or per-connection quota is used up; retrying later works. */
    RATE_LIMITED,
    /** Tether cannot take the request now (overloaded, storage unavailable, shutting down); retry later. */
    UNAVAILABLE,
    /** The server is not configured for this (no model backend, no token signing key); retrying will not help. */
    NOT_CONFIGURED,
    /** An upstream model server failed or answered something unusable. */
    UPSTREAM_FAILED,
    /** An upstream model server did not answer in time. */
    UPSTREAM_TIMEOUT,
    /** The request uses an HTTP version this server does not speak. */
    VERSION_NOT_SUPPORTED,
    /** A bug: never the client's fault. */
    INTERNAL
}
