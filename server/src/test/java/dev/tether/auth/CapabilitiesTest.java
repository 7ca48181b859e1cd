package dev.tether.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Capability documents: globs, operations, containment for minting, and the auth config's checks. */
class CapabilitiesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Capabilities caps(String json) throws Exception {
        return Capabilities.parse(JSON.readTree(json));
    }

    @Test
    void globsMatchAnyRunOfCharactersIncludingSlashes() throws Exception {
        Capabilities c = caps("{\"streams/chat/*\":[\"read\",\"append\"],\"responses\":[\"*\"]}");
        assertTrue(c.allows("streams/chat/42", Operation.READ));
        assertTrue(c.allows("streams/chat/a/b", Operation.APPEND), "* crosses slashes");
        assertFalse(c.allows("streams/chat/42", Operation.DELETE), "operation not granted");
        assertFalse(c.allows("streams/chatroom", Operation.READ), "the slash is literal");
        assertFalse(c.allows("streams/other", Operation.READ));
        assertTrue(c.allows("responses", Operation.DELETE), "* as operation means all");
        assertFalse(c.allows("conversations", Operation.READ));
        assertTrue(caps("{\"*\":[\"read\"]}").allows("sessions/s1", Operation.READ), "* as resource means all");
        assertTrue(caps("{\"sessions/team-*-room\":[\"join\"]}").allows("sessions/team-a-room", Operation.JOIN));
    }

    @Test
    void containmentDecidesWhatAKeyMayGrant() throws Exception {
        Capabilities key = caps("{\"streams/public/*\":[\"read\",\"append\"],\"sessions/*\":[\"*\"]}");
        assertNull(key.uncovered(caps("{\"streams/public/docs/*\":[\"read\"]}")), "a narrower glob");
        assertNull(key.uncovered(caps("{\"streams/public/x\":[\"read\",\"append\"]}")), "a concrete resource");
        assertNull(key.uncovered(caps("{\"sessions/s1\":[\"*\"],\"sessions/*\":[\"join\"]}")), "all ops under all");
        assertEquals(
                "streams/*",
                key.uncovered(caps("{\"streams/*\":[\"read\"]}")).resource().glob(),
                "a wider glob");
        assertEquals(
                "streams/public/*",
                key.uncovered(caps("{\"streams/public/*\":[\"*\"]}")).resource().glob(),
                "all operations where the key has two");
        assertEquals(
                "streams/pub*",
                key.uncovered(caps("{\"streams/pub*\":[\"read\"]}")).resource().glob(),
                "a glob that reaches past the key's prefix");
        assertEquals(
                "responses",
                key.uncovered(caps("{\"responses\":[\"read\"]}")).resource().glob());
        assertNull(caps("{\"*\":[\"*\"]}").uncovered(key), "everything covers everything");
    }

    @Test
    void malformedDocumentsAreRefusedSayingWhy() {
        IllegalArgumentException resource =
                assertThrows(IllegalArgumentException.class, () -> caps("{\"files/x\":[\"read\"]}"));
        assertTrue(resource.getMessage().contains("streams/<path glob>"), resource.getMessage());
        IllegalArgumentException op =
                assertThrows(IllegalArgumentException.class, () -> caps("{\"responses\":[\"write\"]}"));
        assertTrue(op.getMessage().contains("'write'"), op.getMessage());
        assertThrows(IllegalArgumentException.class, () -> caps("{\"responses\":[]}"));
        assertThrows(IllegalArgumentException.class, () -> caps("[\"responses\"]"));
    }

    @Test
    void theAuthConfigRefusesTyposShortSecretsAndEmptyFiles(@TempDir Path dir) throws Exception {
        assertConfigError(
                dir, "{\"keys\":[{\"name\":\"a\",\"secret\":\"short\",\"capabilities\":{\"*\":[\"*\"]}}]}", "shorter");
        assertConfigError(dir, "{\"keyz\":[]}", "unknown field \"keyz\"");
        assertConfigError(dir, "{}", "configures nothing");
        assertConfigError(dir, "{\"jwt\":{\"hs256_secret\":\"too-short\"}}", "at least 32 bytes");
        assertConfigError(dir, "{\"jwt\":{\"jwks_file\":\"missing.json\"}}", "missing.json");
        assertConfigError(
                dir,
                "{\"keys\":[{\"name\":\"a\",\"secret\":\"0123456789abcdef\",\"capabilities\":{\"*\":[\"*\"]}},"
                        + "{\"name\":\"a\",\"secret\":\"0123456789abcdeg\",\"capabilities\":{\"*\":[\"*\"]}}]}",
                "repeats");
    }

    private static void assertConfigError(Path dir, String json, String hint) throws Exception {
        Path file = Files.writeString(dir.resolve("auth.json"), json);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AuthConfig.load(file));
        assertTrue(e.getMessage().contains(hint), "expected '" + hint + "' in: " + e.getMessage());
    }
}
