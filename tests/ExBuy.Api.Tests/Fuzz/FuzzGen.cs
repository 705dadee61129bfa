using System.Globalization;
using System.Text;
using CsCheck;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// Generators of hostile input: JSON values of the wrong type or out of every range, strings no database stores, random
/// JSON trees, one-field mutations of a valid body, wire-level damage (truncation, garbage, invalid UTF-8, wrong content
/// types), query strings and path ids. Shared by the fuzz properties; none of them knows an endpoint.
/// </summary>
public static class FuzzGen
{
    /// <summary>Number tokens at and past every boundary the contract names, and ones no .NET number type holds.</summary>
    public static readonly Gen<JsonTree> Number = Gen.Frequency<JsonTree>(
        (6, Gen.OneOf(
            "0", "-0", "1", "-1", "2", "5", "6", "50", "51", "100", "101", "1000", "1001", "2000", "2001",
            "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967296",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
            "18446744073709551616", "123456789012345678901234567890", "1e400", "-1e400", "1e-400", "1.5", "1.0", "0.5",
            "-0.0", "1e2", "1E+2", "2e0", "1.00000000000000000001", "4.9e-324", "1.7976931348623157e308", "0e0")
            .Select(raw => (JsonTree)new JsonToken(raw))),
        (2, Gen.Long.Select(v => (JsonTree)JsonToken.Of(v))),
        (1, Gen.Double.Select(d => (JsonTree)new JsonToken(double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "1e999"))));

    /// <summary>Strings that are empty, blank, long, or that only some layers can store: NUL, lone surrogates, RTL marks, emoji.</summary>
    public static readonly Gen<string> NastyString = Gen.Frequency<string>(
        (6, Gen.OneOf(
            "", " ", "\t\n", "\0", "a\0b", "\ud800", "\udfff", "x\ud800y", "\udc00\ud800", "\u202Eevil\u202C", "\u200F\u05E9\u05DC\u05D5\u05DD",
            "😀", "👩‍👩‍👧‍👦", "e\u0301", "\uFEFF", "\uFFFF", "null", "true", "1", "-1", "1e400", "pending", "PAID", " paid",
            "optimistic", "'; DROP TABLE products; --", "%s%n", "{{x}}", "\\", "\"")),
        (2, Gen.Char["ab\0\ud800\udc00\u202E😀 Z9"].Array[0, 30].Select(chars => new string(chars))),
        (1, Gen.OneOf(1, 99, 100, 101, 1999, 2000, 2001, 5000).SelectMany(n => Gen.OneOf("a", "é", "😀", " ").Select(s => Repeat(s, n)))));

    /// <summary>Nesting past any JSON reader's depth limit (64 by default), of objects or of arrays.</summary>
    public static readonly Gen<JsonTree> DeepNesting = Gen.Select(Gen.Int[60, 300], Gen.Bool, (depth, objects) =>
    {
        JsonTree tree = JsonToken.Of(1);
        for (var i = 0; i < depth; i++)
        {
            tree = objects ? new JsonObject(("a", tree)) : new JsonArray([tree]);
        }
        return tree;
    });

    /// <summary>Any one value of the wrong type or out of range; what a mutated field receives.</summary>
    public static readonly Gen<JsonTree> NastyValue = Gen.Frequency<JsonTree>(
        (8, Number),
        (5, NastyString.Select(s => (JsonTree)new JsonString(s))),
        (3, Gen.OneOf<JsonTree>(new JsonToken("true"), new JsonToken("false"), new JsonToken("null"), new JsonArray([]), new JsonObject(),
            new JsonArray([JsonToken.Of(1)]), new JsonArray([new JsonToken("null")]), new JsonObject(("a", JsonToken.Of(1))), new JsonArray([new JsonArray([])]))),
        (1, DeepNesting),
        (2, Gen.Int[0, 3].SelectMany(depth => Tree(depth, ["a", "id"]))));

    /// <summary>A random JSON tree up to <paramref name="depth"/> deep whose member names come mostly from <paramref name="names"/>.</summary>
    public static Gen<JsonTree> Tree(int depth, IReadOnlyList<string> names)
    {
        var scalar = Gen.Frequency<JsonTree>(
            (3, Number),
            (2, NastyString.Select(s => (JsonTree)new JsonString(s))),
            (1, Gen.OneOf("true", "false", "null").Select(raw => (JsonTree)new JsonToken(raw))));
        if (depth <= 0)
        {
            return scalar;
        }
        var child = Tree(depth - 1, names);
        var name = Gen.Frequency<string>((4, Gen.OneOf([.. names])), (1, NastyString));
        return Gen.Frequency<JsonTree>(
            (2, scalar),
            (1, child.Array[0, 4].Select(items => (JsonTree)new JsonArray(items))),
            (2, Gen.Select(name, child).Array[0, 5].Select(members => (JsonTree)new JsonObject(members))));
    }

    /// <summary>
    /// A valid body with one node damaged: its value replaced by a nasty one, or (objects and arrays) a member dropped,
    /// duplicated, renamed in upper case, an unknown member added, an element dropped or repeated, the array emptied or
    /// grown past <paramref name="oversize"/> elements.
    /// </summary>
    public static Gen<JsonTree> Mutated(Gen<JsonTree> valid, int oversize) =>
        from tree in valid
        from index in Gen.Int[0, NodeCount(tree) - 1]
        from choice in Gen.Int[0, 11]
        from extra in NastyValue
        select Replace(tree, index, node => Restructure(node, choice, extra, oversize));

    /// <summary>
    /// The documents sent to a JSON endpoint: mostly <paramref name="valid"/> ones with one node damaged, some valid,
    /// some damaged twice, some random trees whose member names come from <paramref name="names"/>.
    /// </summary>
    public static Gen<JsonTree> Documents(Gen<JsonTree> valid, IReadOnlyList<string> names, int oversize) => Gen.Frequency<JsonTree>(
        (12, Mutated(valid, oversize)),
        (4, valid),
        (2, Mutated(Mutated(valid, oversize), oversize)),
        (2, Gen.Int[0, 3].SelectMany(depth => Tree(depth, names))));

    /// <summary>Requests carrying those documents as sent on the wire (<see cref="Wire"/>), under a JSON content type mostly.</summary>
    public static Gen<FuzzRequest> JsonRequests(HttpMethod method, Gen<(string Url, bool NotAnId)> urls, Gen<JsonTree> documents) =>
        from url in urls
        from document in documents
        from bytes in Wire(document)
        from contentType in JsonContentType
        select new FuzzRequest(method, url.Url, bytes, contentType, document, url.NotAnId);

    /// <summary>
    /// The bytes sent for a body: mostly the document as written, sometimes truncated, with garbage after it, with a BOM,
    /// with an invalid UTF-8 byte inside, or nothing at all.
    /// </summary>
    public static Gen<byte[]> Wire(JsonTree tree)
    {
        var json = tree.ToJson();
        return Gen.Frequency<byte[]>(
            (40, Gen.Const(() => Encoding.UTF8.GetBytes(json))),
            (2, Gen.Int[0, Math.Max(0, json.Length - 1)].Select(n => Encoding.UTF8.GetBytes(json[..n]))),
            (1, Gen.OneOf("}", ",", "x", "\0", " {}", "]", "\"").Select(tail => Encoding.UTF8.GetBytes(json + tail))),
            (1, Gen.Const(() => (byte[])[0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(json)])),
            (1, Gen.Int[0, json.Length].SelectMany(at => Gen.OneOf<byte>(0xFF, 0xC3, 0x80, 0xED).Select(b =>
                (byte[])[.. Encoding.UTF8.GetBytes(json[..at]), b, .. Encoding.UTF8.GetBytes(json[at..])]))),
            (1, Gen.OneOf("", " ", "\n", "null", "\"\"", "0", "[]").Select(text => Encoding.UTF8.GetBytes(text))));
    }

    /// <summary>The Content-Type of a JSON body: mostly right, sometimes another type, a wrong charset, or none.</summary>
    public static readonly Gen<string?> JsonContentType = Gen.Frequency<string?>(
        (30, Gen.Const<string?>("application/json")),
        (3, Gen.Const<string?>("application/json; charset=utf-8")),
        (1, Gen.OneOf<string?>(null, "text/plain", "application/xml", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/json; charset=latin1",
            "application/problem+json", "application/merge-patch+json", "APPLICATION/JSON", "application/jsonx", "*/*")));

    /// <summary>Query values that are empty, signed, fractional, overflowing, of the wrong kind, long, or odd unicode.</summary>
    public static readonly Gen<string> NastyQueryValue = Gen.Frequency<string>(
        (6, Gen.OneOf(
            "", " ", "-1", "0", "1", "5", "6", "100", "101", "2147483647", "2147483648", "9223372036854775807",
            "9223372036854775808", "99999999999999999999999", "1.5", "1,5", "1e3", "+1", "0x10", " 1", "1 ", "01", "-0",
            "true", "TRUE", "True", "yes", "on", "null", "NaN", "Infinity", "-", "-id", "--id", "id,name", "ID", "price ",
            "0.001", "10.005", "9999999999.99", "10000000000.00", "-0.01", ".5", "5.", "1_000", "١٢٣")),
        (2, NastyString),
        (1, Gen.Long.Select(v => v.ToString(CultureInfo.InvariantCulture))));

    /// <summary>Text put into a query string as is, already percent-encoded (or deliberately not): NUL, invalid escapes, encoded lone surrogates.</summary>
    public static readonly Gen<string> RawQueryToken = Gen.OneOf(
        "%00", "%ZZ", "%", "%2", "%E2%80%AE", "%ED%A0%80", "%FF", "%C0%AF", "%F0%9F%98%80", "a+b", "%26", "%3D", "%2B1", "&", "=", "==", "#x");

    /// <summary>A query string (with its '?', or empty) of parameters the endpoint takes, given valid or nasty values, plus some unknown ones.</summary>
    public static Gen<string> Query(IReadOnlyList<(string Name, Gen<string> Valid)> parameters)
    {
        var known = parameters.Count == 0
            ? Gen.OneOf(("x", Gen.OneOf("1")))
            : Gen.OneOf([.. parameters]);
        var pair =
            from p in known
            from nameChoice in Gen.Int[0, 19]
            from value in Gen.Frequency<string>((5, p.Item2.Select(Uri.EscapeDataString)), (3, NastyQueryValue.Select(Uri.EscapeDataString)), (1, RawQueryToken))
            select (nameChoice switch
            {
                0 => p.Item1.ToUpperInvariant(),
                1 => Uri.EscapeDataString(p.Item1) + "%00",
                2 => "unknown_" + p.Item1,
                _ => Uri.EscapeDataString(p.Item1),
            }) + (nameChoice == 3 ? "" : "=" + value);
        return Gen.Frequency<string>(
            (10, pair.Array[0, 5].Select(pairs => pairs.Length == 0 ? "" : "?" + string.Join('&', pairs))),
            (1, Gen.OneOf("?", "?&", "?=", "?&&&", "?==", "?page=1&page=2", "?optimize=true&optimize=false")),
            (1, known.SelectMany(p => Gen.Int[1_000, 20_000].Select(n => $"?{p.Item1}={Repeat("9", n)}"))));
    }

    /// <summary>
    /// A path id, and whether it is no positive integer at all (so the contract makes it a 404 however the rest looks).
    /// No encoded NUL: the in-process test host refuses such a path before the app sees it (Kestrel answers it a 400).
    /// </summary>
    public static Gen<PathId> PathIds(IReadOnlyList<long> live) => Gen.Frequency<PathId>(
        (6, Gen.OneOf([.. live]).Select(id => new PathId(id.ToString(CultureInfo.InvariantCulture), false))),
        (1, Gen.Const(new PathId("8000000000000", false))),
        (1, Gen.OneOf("01", "+1", "%2B1", "0001", "%201").Select(text => new PathId(text, false))),
        (4, Gen.OneOf(
            "0", "-1", "-0", "-9223372036854775808", "9223372036854775808", "99999999999999999999", "abc", "1.5", "1e3", "0x1",
            "%E2%80%AE1", "%F0%9F%98%80", "١", "null", "true", "%2D1", "1,2", "%20", "NaN", "-9999999999999999999999")
            .Select(text => new PathId(text, true))),
        (1, Gen.Long[long.MinValue, 0].Select(v => new PathId(v.ToString(CultureInfo.InvariantCulture), true))));

    public static int NodeCount(JsonTree tree) => 1 + tree switch
    {
        JsonArray array => array.Items.Sum(NodeCount),
        JsonObject obj => obj.Members.Sum(m => NodeCount(m.Value)),
        _ => 0,
    };

    /// <summary>The tree with its <paramref name="index"/>-th node (pre-order) replaced by <paramref name="replace"/>(node).</summary>
    public static JsonTree Replace(JsonTree tree, int index, Func<JsonTree, JsonTree> replace)
    {
        var remaining = index;
        return Walk(tree);

        JsonTree Walk(JsonTree node)
        {
            if (remaining-- == 0)
            {
                return replace(node);
            }
            return node switch
            {
                JsonArray array when remaining >= 0 => new JsonArray([.. array.Items.Select(Walk)]),
                JsonObject obj when remaining >= 0 => new JsonObject([.. obj.Members.Select(m => (m.Name, Walk(m.Value)))]),
                _ => node,
            };
        }
    }

    private static JsonTree Restructure(JsonTree node, int choice, JsonTree extra, int oversize)
    {
        switch (node)
        {
            case JsonObject { Members.Count: > 0 } obj when choice < 6:
                var at = choice % obj.Members.Count;
                var member = obj.Members[at];
                return choice switch
                {
                    0 => new JsonObject([.. obj.Members.Where((_, i) => i != at)]),
                    1 => new JsonObject([.. obj.Members, (member.Name, extra)]),
                    2 => new JsonObject([(member.Name, extra), .. obj.Members]),
                    3 => new JsonObject([.. obj.Members.Select((m, i) => i == at ? (m.Name.ToUpperInvariant(), m.Value) : m)]),
                    4 => new JsonObject([.. obj.Members, ("unknown_field", extra)]),
                    _ => new JsonObject([.. obj.Members.Select((m, i) => i == at ? (m.Name, extra) : m)]),
                };
            case JsonArray { Items.Count: > 0 } array when choice < 6:
                return choice switch
                {
                    0 => new JsonArray([.. array.Items.Skip(1)]),
                    1 => new JsonArray([.. array.Items, array.Items[0]]),
                    2 => new JsonArray([]),
                    3 => new JsonArray([.. Enumerable.Repeat(array.Items[0], oversize + 1)]),
                    4 => new JsonArray([.. array.Items, extra]),
                    _ => new JsonArray([.. array.Items.Select((item, i) => i == array.Items.Count - 1 ? extra : item)]),
                };
            default:
                return extra;
        }
    }

    private static string Repeat(string s, int count) => new StringBuilder(s.Length * count).Insert(0, s, count).ToString();
}

/// <summary>The id put in a path, and whether it is no positive integer (a 404 whatever else the request says).</summary>
public sealed record PathId(string Text, bool NotAnId);
