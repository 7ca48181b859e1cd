package dev.tether.fuzz;

/**
 * The server under test and what the oracle may expect of it.
 *
 * @param host            where it listens
 * @param port            its port
 * @param token           a bearer token sent with every request (except auth mutations), or null
 * @param longPollMillis  its {@code --long-poll-timeout}: a long-poll at the tail legitimately waits this long
 * @param upstream        an upstream is configured: 502/504 are then allowed on the Responses API
 * @param noBackend       no model backend: 503 {@code no_backend} is then allowed on the Responses API
 */
record Target(String host, int port, String token, long longPollMillis, boolean upstream, boolean noBackend) {
    String hostHeader() {
        return host + ":" + port;
    }

    /** The Authorization header line (with CR LF), or nothing. */
    String authLine() {
        return token == null ? "" : "Authorization: Bearer " + token + "\r\n";
    }

    @Override
    public String toString() {
        return "http://" + hostHeader();
    }
}
