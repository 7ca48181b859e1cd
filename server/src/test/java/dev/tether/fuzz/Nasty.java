package dev.tether.fuzz;

import java.io.ByteArrayOutputStream;
import java.util.List;

/**
 * Values that break parsers: edge numbers, odd Unicode, invalid UTF-8, bad percent escapes.
 * None contains the words the oracle looks for ({@code Exception}, {@code java.lang.}), so a
 * value echoed back in a body is never mistaken for a leaked stack trace.
 */
final class Nasty {
    private Nasty() {}

    /** Numbers as text, for JSON values, headers and query parameters. */
    static final List<String> NUMBERS = List.of(
            "0",
            "-0",
            "1",
            "-1",
            "01",
            "+1",
            "1.0",
            "0.5",
            "-0.0",
            "1e3",
            "1E+2",
            "1e-400",
            "1e309",
            "-1e309",
            "2147483647",
            "2147483648",
            "-2147483649",
            "9007199254740991",
            "9007199254740992",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "123456789012345678901234567890123456789",
            "0x10",
            "NaN",
            "Infinity",
            "-Infinity",
            "1_000",
            "١٢٣",
            "0.0000000000000000000000000000001",
            "4.9e-324",
            "1.7976931348623157e308");

    /** Strings for JSON string values, header values and path segments (before escaping). */
    static final List<String> STRINGS = List.of(
            "",
            " ",
            "a",
            "null",
            "true",
            "[]",
            "{}",
            "\"",
            "'",
            "\\",
            "/",
            "//",
            ".",
            "..",
            "../..",
            "%",
            "%zz",
            "%00",
            "%c0%ae",
            "%ff%fe",
            "\u0000",
            "\r\n",
            "\r\nX-Injected: 1",
            "\t",
            "\u007f",
            "\u0085",
            "\u00a0",
            "\u00ff",
            "\u2028\u2029",
            "\u202e\u202d",
            "\ufeff",
            "\ufffd",
            "\uffff",
            "\ud83d\ude00",
            "e\u0301\u0301\u0301",
            "\u0928\u093f",
            "\u4e2d\u6587",
            "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
            "<script>alert(1)</script>",
            "'; DROP TABLE streams;--",
            "${jndi:ldap://127.0.0.1/a}",
            "{{7*7}}",
            "$(id)",
            "`id`",
            "%s%s%s%n",
            "..%2f..%2f",
            "..\\..\\",
            "/etc/passwd",
            "C:\\boot.ini",
            "*",
            "?",
            "#",
            "&",
            "=",
            ";",
            ",",
            "+",
            "~",
            "resp_",
            "conv_",
            "msg_",
            "resp_" + "f".repeat(48),
            "conv_" + "0".repeat(48),
            "-1",
            "now",
            "0000000000000000_0000000000000000",
            "9999999999999999_9999999999999999",
            "0000000000000000_",
            "_",
            "0000000000000000_-000000000000001");

    /** Byte sequences that are not valid UTF-8 (or are valid but suspicious: overlong, surrogates). */
    static final List<byte[]> BAD_UTF8 = List.of(
            new byte[] {(byte) 0xc0, (byte) 0xae},
            new byte[] {(byte) 0xc0, (byte) 0x80},
            new byte[] {(byte) 0xff, (byte) 0xfe},
            new byte[] {(byte) 0xfe, (byte) 0xff, 0, 'a'},
            new byte[] {(byte) 0x80},
            new byte[] {(byte) 0xbf, (byte) 0xbf},
            new byte[] {(byte) 0xe2, (byte) 0x82},
            new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
            new byte[] {(byte) 0xed, (byte) 0xbf, (byte) 0xbf},
            new byte[] {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80},
            new byte[] {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
            new byte[] {(byte) 0xe0, (byte) 0x80, (byte) 0xaf},
            new byte[] {(byte) 0xf0, (byte) 0x9f, (byte) 0x98});

    /** JSON string escapes that decode to lone or reversed surrogates and control characters. */
    static final List<String> JSON_ESCAPES =
            List.of("\\ud800", "\\udfff", "\\udc00\\ud800", "\\ud800\\u0041", "\\u0000", "\\u001f", "\\uFFFE", "\\u");

    /** Percent escapes for request targets, including broken ones. */
    static final List<String> ESCAPES = List.of(
            "%zz",
            "%",
            "%2",
            "%%",
            "%g0",
            "%00",
            "%0a",
            "%0d%0a",
            "%2e%2e",
            "%2E%2E%2F",
            "%2f",
            "%5c",
            "%c0%ae",
            "%ff%fe",
            "%e2%82",
            "%ed%a0%80",
            "%f4%90%80%80",
            "%25",
            "%u002e",
            "%20",
            "+",
            "%2B",
            "%7f",
            "%80");

    static String number(Dice d) {
        return d.pick(NUMBERS);
    }

    static String string(Dice d) {
        return d.chance(0.1) ? longString(d) : d.pick(STRINGS);
    }

    static String longString(Dice d) {
        return d.pick("a", "\u00e9", "\ud83d\ude00", "/", "%", "x ").repeat(d.pick(300, 4_000, 70_000));
    }

    /** Bytes that are valid UTF-8 text with one of {@link #BAD_UTF8} spliced in somewhere. */
    static byte[] spliceBadUtf8(Dice d, byte[] valid) {
        int at = valid.length == 0 ? 0 : d.below(valid.length + 1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(valid, 0, at);
        out.writeBytes(d.pick(BAD_UTF8));
        out.write(valid, at, valid.length - at);
        return out.toByteArray();
    }

    /** A percent-escaped form of a nasty string, or a broken escape. */
    static String pathSegment(Dice d) {
        return switch (d.below(5)) {
            case 0 -> d.pick(ESCAPES);
            case 1 -> percentEncode(d.pick(STRINGS));
            case 2 -> d.pick("..", ".", "", "%2e%2e", "%2e", ".%2e", "..;", "...", "~", "a;b=c", "a?b", "a#b");
            case 3 -> Text.fromLatin1(FuzzCase.utf8(d.pick("\u00e9", "\u4e2d", "\ud83d\ude00", "\u202e", "\u00ff")));
            default -> Text.fromLatin1(d.pick(BAD_UTF8));
        };
    }

    static String percentEncode(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : FuzzCase.utf8(s)) {
            int c = b & 0xff;
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
                sb.append((char) c);
            } else {
                sb.append('%').append(String.format("%02X", c));
            }
        }
        return sb.toString();
    }
}
