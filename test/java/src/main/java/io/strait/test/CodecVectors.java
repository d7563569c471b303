package io.strait.test;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BinaryNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.Readable;
import org.apache.kafka.common.protocol.types.RawTaggedField;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Cross-checks Strait's TypeScript protocol codec against the message classes of the Apache Kafka
 * Java client (org.apache.kafka.common.message.*Data and their *DataJsonConverter classes).
 *
 * <pre>java -cp CLASSES:KAFKA_LIBS/* io.strait.test.CodecVectors INPUT.jsonl|- OUTPUT.jsonl|-</pre>
 *
 * ("-" reads standard input or writes standard output.) Every input line is one JSON object with an "op":
 * <ul>
 *   <li>describe {name, kind, apiKey}: which Java class implements the message, the versions it
 *       supports, and the message definition the class was generated from (a resource of the jar).</li>
 *   <li>check {id, name, kind, apiKey, version, json, hex}: (a) Java decodes the TypeScript bytes,
 *       must consume all of them, and re-serializes them to the same bytes; (b) Java builds the
 *       message from the JsonConverter JSON and serializes it to the same bytes, and the two objects
 *       are equal; (c) Java's JsonConverter JSON of what it decoded is returned for the caller to
 *       compare values.</li>
 *   <li>generate {name, kind, apiKey, version, seed}: Java builds a message with a non-default value
 *       in every field of that version (tagged fields included, a real record batch in records
 *       fields, and an unknown tagged field at the top level of flexible versions, numbered between or
 *       after the defined tags) and returns its
 *       bytes and its JsonConverter JSON.</li>
 * </ul>
 * Each input line yields one output line with the same "op" (and "id" when given); a line with op
 * "sync" is echoed and flushes the output, so a caller can read the answers so far and send more.
 *
 * <p>The JsonConverter writes a records field as an empty binary (or as its size); this program
 * replaces that with the real bytes, base64 like every other binary.
 */
public final class CodecVectors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper SPEC_JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_JAVA_COMMENTS).build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final HexFormat HEX = HexFormat.of();
    private static final Set<String> PRIMITIVES = Set.of(
        "bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "uuid", "bytes", "records");
    private static final String[] STRINGS = {
        "strait", "topic-\u00e9t\u00e9", "\ud83d\ude80-rocket", "x", "consumer-group-with-a-rather-long-name", "\u4e2d\u6587"};

    /** Everything needed to drive one message class. */
    private static final class Api {
        final Class<?> cls;
        final Constructor<?> readCtor;
        final Method jsonRead;
        final Method jsonWrite;
        final short lowest;
        final short highest;
        final String specName;
        final Spec spec; // null when the jar has no definition for it

        Api(Class<?> cls, String specName) throws ReflectiveOperationException {
            this.cls = cls;
            this.readCtor = cls.getConstructor(Readable.class, short.class);
            Class<?> conv = Class.forName(cls.getName() + "JsonConverter");
            this.jsonRead = conv.getMethod("read", JsonNode.class, short.class);
            this.jsonWrite = conv.getMethod("write", cls, short.class);
            Message blank = (Message) cls.getConstructor().newInstance();
            this.lowest = blank.lowestSupportedVersion();
            this.highest = blank.highestSupportedVersion();
            this.specName = specName;
            this.spec = Spec.load(specName);
        }
    }

    /** A version range as written in the message definitions ("3+", "0-2", "none"). */
    private record Range(int min, int max) {
        static final Range NONE = new Range(1, 0);

        static Range parse(String s) {
            if (s == null || s.equals("none")) return NONE;
            if (s.endsWith("+")) return new Range(Integer.parseInt(s.substring(0, s.length() - 1)), Short.MAX_VALUE);
            int dash = s.indexOf('-');
            if (dash < 0) return new Range(Integer.parseInt(s), Integer.parseInt(s));
            return new Range(Integer.parseInt(s.substring(0, dash)), Integer.parseInt(s.substring(dash + 1)));
        }

        boolean contains(int v) {
            return v >= min && v <= max;
        }
    }

    /** One field of a message definition, struct types resolved. */
    private static final class Field {
        String name;
        String camel;
        String type; // as written, e.g. "[]int32", "[]TopicData", "records"
        Range versions;
        Range nullable;
        Range tagged;
        int tag;
        String dflt;
        List<Field> fields; // struct or struct-array element fields, else null

        boolean presentAt(int v, boolean flexible) {
            if (!versions.contains(v)) return false;
            return tagged == Range.NONE || (flexible && tagged.contains(v));
        }
    }

    /** A message definition read from the jar's common/message/NAME.json. */
    private static final class Spec {
        JsonNode raw;
        Range flexible;
        List<Field> fields;
        boolean hasRecords;

        static Spec load(String name) {
            try (InputStream in = CodecVectors.class.getClassLoader().getResourceAsStream("common/message/" + name + ".json")) {
                if (in == null) return null;
                Spec s = new Spec();
                s.raw = SPEC_JSON.readTree(in);
                s.flexible = Range.parse(s.raw.path("flexibleVersions").asText("none"));
                Map<String, JsonNode> common = new HashMap<>();
                for (JsonNode c : s.raw.path("commonStructs")) common.put(c.get("name").asText(), c);
                s.fields = parseFields(s.raw.get("fields"), common, s);
                return s;
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        private static List<Field> parseFields(JsonNode arr, Map<String, JsonNode> common, Spec s) {
            List<Field> out = new ArrayList<>();
            if (arr == null) return out;
            for (JsonNode n : arr) {
                Field f = new Field();
                f.name = n.get("name").asText();
                f.camel = Character.toLowerCase(f.name.charAt(0)) + f.name.substring(1);
                f.type = n.get("type").asText();
                f.versions = Range.parse(n.path("versions").asText("none"));
                f.nullable = Range.parse(n.path("nullableVersions").asText("none"));
                f.tagged = Range.parse(n.path("taggedVersions").asText("none"));
                f.tag = n.path("tag").asInt(-1);
                f.dflt = n.has("default") ? n.get("default").asText() : null;
                String elem = f.type.startsWith("[]") ? f.type.substring(2) : f.type;
                if (elem.equals("records")) s.hasRecords = true;
                if (!PRIMITIVES.contains(elem)) {
                    JsonNode def = n.has("fields") ? n.get("fields") : common.get(elem).get("fields");
                    f.fields = parseFields(def, common, s);
                }
                out.add(f);
            }
            return out;
        }
    }

    private final Map<String, Api> apis = new HashMap<>();

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: CodecVectors INPUT.jsonl|- OUTPUT.jsonl|-");
            System.exit(2);
        }
        CodecVectors cv = new CodecVectors();
        try (BufferedReader in = args[0].equals("-")
                 ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16)
                 : Files.newBufferedReader(Path.of(args[0]), StandardCharsets.UTF_8);
             BufferedWriter out = args[1].equals("-")
                 ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16)
                 : Files.newBufferedWriter(Path.of(args[1]), StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                JsonNode req = JSON.readTree(line);
                ObjectNode res = NODES.objectNode();
                res.put("op", req.path("op").asText());
                if (req.has("id")) res.set("id", req.get("id"));
                if (req.has("name")) res.set("name", req.get("name"));
                if (req.has("version")) res.set("version", req.get("version"));
                try {
                    switch (req.path("op").asText()) {
                        case "describe" -> cv.describe(req, res);
                        case "check" -> cv.check(req, res);
                        case "generate" -> cv.generate(req, res);
                        case "sync" -> { }
                        default -> throw new IllegalArgumentException("unknown op " + req.path("op"));
                    }
                } catch (Throwable t) {
                    res.put("status", "error");
                    res.put("error", describe(t));
                }
                out.write(JSON.writeValueAsString(res));
                out.write('\n');
                if (req.path("op").asText().equals("sync")) out.flush();
            }
        }
    }

    private static String describe(Throwable t) {
        while (t instanceof InvocationTargetException && t.getCause() != null) t = t.getCause();
        StringBuilder sb = new StringBuilder(t.toString());
        for (StackTraceElement e : Arrays.asList(t.getStackTrace()).subList(0, Math.min(4, t.getStackTrace().length))) {
            sb.append(" at ").append(e);
        }
        return sb.toString();
    }

    /** Finds the Java class of a message: by API key for requests and responses, by name otherwise. */
    private Api api(JsonNode req) throws ReflectiveOperationException, Removed {
        String name = req.get("name").asText();
        String kind = req.get("kind").asText();
        String key = kind + ":" + name;
        Api cached = apis.get(key);
        if (cached != null) return cached;
        Class<?> cls;
        String specName;
        if (kind.equals("request") || kind.equals("response")) {
            try {
                ApiMessageType type = ApiMessageType.fromApiKey((short) req.get("apiKey").asInt());
                cls = (kind.equals("request") ? type.newRequest() : type.newResponse()).getClass();
            } catch (RuntimeException e) {
                throw new Removed(removedReason(name, e));
            }
            specName = cls.getSimpleName().replaceFirst("Data$", "");
        } else if (kind.equals("header")) {
            cls = Class.forName("org.apache.kafka.common.message." + name + "Data");
            specName = name;
        } else {
            Class<?> found;
            try {
                found = Class.forName("org.apache.kafka.common.message." + name);
            } catch (ClassNotFoundException e) {
                found = Class.forName("org.apache.kafka.common.message." + name + "Data");
            }
            cls = found;
            specName = name;
        }
        Api api = new Api(cls, specName);
        apis.put(key, api);
        return api;
    }

    /** A message Kafka 4.3.1 no longer implements. */
    private static final class Removed extends Exception {
        private static final long serialVersionUID = 1L;

        Removed(String reason) {
            super(reason);
        }
    }

    private static String removedReason(String name, Exception e) {
        Spec spec = Spec.load(name);
        if (spec != null && spec.raw.path("validVersions").asText().equals("none")) {
            return "removed from Kafka 4.3.1 (its " + name + ".json has validVersions none)";
        }
        return "Kafka 4.3.1 has no class for it: " + e;
    }

    private void describe(JsonNode req, ObjectNode res) throws ReflectiveOperationException {
        Api api;
        try {
            api = api(req);
        } catch (Removed e) {
            res.put("status", "removed");
            res.put("reason", e.getMessage());
            return;
        } catch (ClassNotFoundException | RuntimeException e) {
            res.put("status", "missing");
            res.put("error", describe(e));
            return;
        }
        res.put("status", "ok");
        res.put("javaClass", api.cls.getName());
        res.put("specName", api.specName);
        res.put("lowest", api.lowest);
        res.put("highest", api.highest);
        res.set("spec", api.spec == null ? NullNode.instance : api.spec.raw);
    }

    private static byte[] serialize(Message m, short v) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = m.size(cache, v);
        ByteBuffer buf = ByteBuffer.allocate(size);
        m.write(new ByteBufferAccessor(buf), cache, v);
        if (buf.position() != size) {
            throw new IllegalStateException("size() said " + size + " bytes but write() wrote " + buf.position());
        }
        return buf.array();
    }

    private static Object invoke(Method m, Object... args) throws Throwable {
        try {
            return m.invoke(null, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private void check(JsonNode req, ObjectNode res) throws Throwable {
        Api api;
        try {
            api = api(req);
        } catch (Removed e) {
            res.put("status", "unsupported");
            res.put("reason", e.getMessage());
            return;
        }
        short v = (short) req.get("version").asInt();
        if (v < api.lowest || v > api.highest) {
            res.put("status", "unsupported");
            res.put("reason", api.cls.getSimpleName() + " in Kafka 4.3.1 supports v" + api.lowest + "-" + api.highest);
            return;
        }
        byte[] ts = HEX.parseHex(req.get("hex").asText());
        ArrayNode problems = NODES.arrayNode();

        // (a) decode the TypeScript bytes, re-serialize them.
        Message decoded = null;
        try {
            ByteBuffer buf = ByteBuffer.wrap(ts);
            decoded = (Message) api.readCtor.newInstance(new ByteBufferAccessor(buf), v);
            if (buf.remaining() != 0) problems.add("Java left " + buf.remaining() + " of " + ts.length + " bytes unread");
            byte[] again = serialize(decoded, v);
            if (!Arrays.equals(again, ts)) {
                problems.add("Java re-serializes the decoded message differently");
                res.put("reserializedHex", HEX.formatHex(again));
            }
            res.set("json", withRecords(api, decoded, (JsonNode) invoke(api.jsonWrite, decoded, v), v));
        } catch (Throwable t) {
            problems.add("Java cannot decode the TypeScript bytes: " + describe(t));
        }

        // (b) build from the JsonConverter JSON, serialize.
        try {
            Message built = (Message) invoke(api.jsonRead, req.get("json"), v);
            byte[] bytes = serialize(built, v);
            res.put("javaHex", HEX.formatHex(bytes));
            if (!Arrays.equals(bytes, ts)) problems.add("Java's bytes for the JSON value differ from the TypeScript bytes");
            if (decoded != null && !built.equals(decoded)) problems.add("the object Java decoded differs from the one it built from JSON");
        } catch (Throwable t) {
            problems.add("Java cannot build the message from JSON: " + describe(t));
        }
        res.put("status", problems.isEmpty() ? "ok" : "mismatch");
        res.set("problems", problems);
    }

    private void generate(JsonNode req, ObjectNode res) throws Throwable {
        Api api;
        try {
            api = api(req);
        } catch (Removed e) {
            res.put("status", "unsupported");
            res.put("reason", e.getMessage());
            return;
        }
        short v = (short) req.get("version").asInt();
        if (v < api.lowest || v > api.highest) {
            res.put("status", "unsupported");
            res.put("reason", api.cls.getSimpleName() + " in Kafka 4.3.1 supports v" + api.lowest + "-" + api.highest);
            return;
        }
        if (api.spec == null) throw new IllegalStateException("no message definition " + api.specName + ".json in the jar");
        int seed = req.path("seed").asInt(1);
        Random rnd = new Random(seed * 1_000_003L + v * 131L + api.specName.hashCode());
        boolean flexible = api.spec.flexible.contains(v);
        // Seed 1 fills every field; even seeds put null in every nullable field whose default is not null.
        ObjectNode json = randomStruct(api.spec.fields, v, flexible, rnd, 0, seed % 2 == 0);
        Message msg = (Message) invoke(api.jsonRead, json, v);
        ArrayNode unknown = NODES.arrayNode();
        if (flexible) {
            byte[] data = new byte[1 + rnd.nextInt(6)];
            rnd.nextBytes(data);
            // A tag the struct does not define, often between defined ones, sometimes a multi-byte varint.
            Set<Integer> known = new java.util.HashSet<>();
            for (Field f : api.spec.fields) if (f.tag >= 0) known.add(f.tag);
            int tag = seed % 2 == 1 ? rnd.nextInt(known.size() + 2) : 200 + rnd.nextInt(20000);
            while (known.contains(tag)) tag++;
            msg.unknownTaggedFields().add(new RawTaggedField(tag, data));
            ObjectNode u = unknown.addObject();
            u.put("tag", tag);
            u.put("hex", HEX.formatHex(data));
        }
        byte[] bytes = serialize(msg, v);
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        Message back = (Message) api.readCtor.newInstance(new ByteBufferAccessor(buf), v);
        if (buf.remaining() != 0 || !back.equals(msg)) throw new IllegalStateException("Java does not round-trip its own message");
        res.put("status", "ok");
        res.put("hex", HEX.formatHex(bytes));
        res.set("json", withRecords(api, msg, (JsonNode) invoke(api.jsonWrite, msg, v), v));
        res.set("unknownTaggedFields", unknown);
    }

    // ---- records fields: put the real bytes into the JsonConverter output --------------------------

    private static JsonNode withRecords(Api api, Object obj, JsonNode json, short v) throws ReflectiveOperationException {
        if (api.spec == null || !api.spec.hasRecords) return json;
        patchRecords(api.spec.fields, obj, (ObjectNode) json, v, api.spec.flexible.contains(v));
        return json;
    }

    private static void patchRecords(List<Field> fields, Object obj, ObjectNode json, short v, boolean flexible)
            throws ReflectiveOperationException {
        for (Field f : fields) {
            if (!f.presentAt(v, flexible) || !json.has(f.camel)) continue;
            boolean array = f.type.startsWith("[]");
            String elem = array ? f.type.substring(2) : f.type;
            if (!elem.equals("records") && f.fields == null) continue;
            Object value = obj.getClass().getMethod(f.camel).invoke(obj);
            if (value == null) continue;
            if (elem.equals("records")) {
                ByteBuffer b = ((ByteBuffer) value.getClass().getMethod("buffer").invoke(value)).duplicate();
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                json.set(f.camel, new BinaryNode(bytes));
            } else if (array) {
                Iterator<JsonNode> nodes = json.get(f.camel).iterator();
                for (Object o : (Iterable<?>) value) patchRecords(f.fields, o, (ObjectNode) nodes.next(), v, flexible);
            } else {
                patchRecords(f.fields, value, (ObjectNode) json.get(f.camel), v, flexible);
            }
        }
    }

    // ---- random messages from the jar's message definitions ----------------------------------------

    private static ObjectNode randomStruct(List<Field> fields, short v, boolean flexible, Random rnd, int depth, boolean nulls) {
        ObjectNode node = NODES.objectNode();
        for (Field f : fields) {
            if (!f.presentAt(v, flexible)) continue;
            if (f.nullable.contains(v) && nulls && !"null".equals(f.dflt)) {
                node.set(f.camel, NullNode.instance);
                continue;
            }
            node.set(f.camel, randomValue(f, f.type, v, flexible, rnd, depth, nulls));
        }
        return node;
    }

    private static JsonNode randomValue(Field f, String type, short v, boolean flexible, Random rnd, int depth, boolean nulls) {
        if (type.startsWith("[]")) {
            ArrayNode arr = NODES.arrayNode();
            int n = depth >= 3 ? 1 : 1 + rnd.nextInt(3);
            for (int i = 0; i < n; i++) arr.add(randomValue(f, type.substring(2), v, flexible, rnd, depth + 1, nulls));
            return arr;
        }
        if (f.fields != null) return randomStruct(f.fields, v, flexible, rnd, depth + 1, nulls);
        for (int attempt = 0; ; attempt++) {
            JsonNode value = randomScalar(type, rnd);
            if (type.equals("bool")) return NODES.booleanNode(!"true".equals(f.dflt));
            if (f.dflt == null || !sameAsDefault(value, f.dflt) || attempt > 10) return value;
        }
    }

    private static boolean sameAsDefault(JsonNode value, String dflt) {
        if (value.isTextual()) return value.asText().equals(dflt);
        if (value.isNumber()) {
            try {
                long d = dflt.startsWith("0x") ? Long.parseLong(dflt.substring(2), 16) : Long.parseLong(dflt);
                return value.asLong() == d;
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return false;
    }

    private static JsonNode randomScalar(String type, Random rnd) {
        switch (type) {
            case "bool":
                return NODES.booleanNode(true);
            case "int8":
                return NODES.numberNode((byte) nonZero(rnd, 255));
            case "int16":
                return NODES.numberNode((short) nonZero(rnd, 65535));
            case "uint16":
                return NODES.numberNode(1 + rnd.nextInt(65535));
            case "int32": {
                int x = rnd.nextInt();
                return NODES.numberNode(x == 0 ? 7 : x);
            }
            case "uint32":
                return NODES.numberNode(1 + (rnd.nextLong() & 0xfffffffeL));
            case "int64": {
                long x = rnd.nextBoolean() ? rnd.nextLong() : rnd.nextInt(1 << 20) * (rnd.nextBoolean() ? 1L : -1L);
                return NODES.numberNode(x == 0 ? 42L : x);
            }
            case "float64":
                return NODES.numberNode(rnd.nextBoolean() ? rnd.nextDouble() * 1e6 : (double) rnd.nextInt(1000) + 0.25);
            case "string":
                return NODES.textNode(STRINGS[rnd.nextInt(STRINGS.length)] + "-" + rnd.nextInt(1000));
            case "uuid": {
                Uuid u;
                do {
                    u = new Uuid(rnd.nextLong(), rnd.nextLong());
                } while (Uuid.RESERVED.contains(u));
                return NODES.textNode(u.toString());
            }
            case "bytes": {
                byte[] b = new byte[1 + rnd.nextInt(40)];
                rnd.nextBytes(b);
                return NODES.binaryNode(b);
            }
            case "records": {
                SimpleRecord[] recs = new SimpleRecord[1 + rnd.nextInt(3)];
                for (int i = 0; i < recs.length; i++) {
                    byte[] key = ("key-" + rnd.nextInt(100)).getBytes(StandardCharsets.UTF_8);
                    byte[] value = new byte[rnd.nextInt(30)];
                    rnd.nextBytes(value);
                    recs[i] = new SimpleRecord(1_700_000_000_000L + rnd.nextInt(1_000_000), key, value);
                }
                ByteBuffer b = MemoryRecords.withRecords(Compression.NONE, recs).buffer().duplicate();
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                return NODES.binaryNode(bytes);
            }
            default:
                throw new IllegalArgumentException("unknown type " + type);
        }
    }

    private static int nonZero(Random rnd, int span) {
        int x = rnd.nextInt(span) - span / 2;
        return x == 0 ? 3 : x;
    }
}
