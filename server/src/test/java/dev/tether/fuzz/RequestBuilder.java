package dev.tether.fuzz;

import dev.tether.fuzz.FuzzCase.Header;
import java.util.ArrayList;
import java.util.List;

/**
 * A request under construction: templates fill it with something valid, mutators then break
 * parts of it, and {@link #build} freezes it. Mutators record their names in the case's kind.
 *
 * <p>Not thread-safe; one per generated case.
 */
final class RequestBuilder {
    String method;
    /** The path as sent, percent-escapes and raw bytes (as chars 0x80-0xff) included. */
    String path;

    final List<String[]> query = new ArrayList<>();
    final List<Header> headers = new ArrayList<>();
    byte[] body = new byte[0];
    boolean withAuth = true;
    private final StringBuilder kind;

    RequestBuilder(String template, String method, String path) {
        this.kind = new StringBuilder(template);
        this.method = method;
        this.path = path;
    }

    RequestBuilder param(String name, String value) {
        query.add(new String[] {name, value});
        return this;
    }

    RequestBuilder header(String name, String value) {
        headers.add(new Header(name, value));
        return this;
    }

    RequestBuilder setHeader(String name, String value) {
        headers.removeIf(h -> h.name().equalsIgnoreCase(name));
        if (value != null) {
            headers.add(new Header(name, value));
        }
        return this;
    }

    String header(String name) {
        for (Header h : headers) {
            if (h.name().equalsIgnoreCase(name)) {
                return h.value();
            }
        }
        return null;
    }

    RequestBuilder body(byte[] value) {
        body = value;
        return this;
    }

    RequestBuilder json(String value) {
        body = FuzzCase.utf8(value);
        return setHeader("Content-Type", "application/json");
    }

    void mutated(String name) {
        kind.append('+').append(name);
    }

    String target() {
        StringBuilder sb = new StringBuilder(path);
        for (int i = 0; i < query.size(); i++) {
            String[] p = query.get(i);
            sb.append(i == 0 ? '?' : '&').append(p[0]);
            if (p[1] != null) {
                sb.append('=').append(p[1]);
            }
        }
        return sb.toString();
    }

    /**
     * Freezes the request. Bytes that would break the framing (space, CR, LF in the target;
     * CR, LF in headers) are escaped or blanked: framing is the raw cases' business.
     */
    FuzzCase.Http build(CaseId id) {
        String target = target().replace(" ", "%20").replace("\r", "%0D").replace("\n", "%0A");
        List<Header> safe = new ArrayList<>();
        for (Header h : headers) {
            safe.add(new Header(oneLine(h.name()), oneLine(h.value())));
        }
        return new FuzzCase.Http(id, kind.toString(), method, target, safe, body, withAuth);
    }

    private static String oneLine(String s) {
        return s.replace('\r', ' ').replace('\n', ' ');
    }
}
