using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// JSON documents the fuzz generators build and send. Unlike System.Text.Json's DOM they hold what a hostile client can
/// write: duplicated keys, lone surrogates and NUL in strings, number tokens no .NET type holds (<c>1e400</c>, <c>-0</c>,
/// <c>99999999999999999999</c>), and any raw text. They also know their own node paths, which is what a 400's
/// <c>errors</c> keys are checked against.
/// </summary>
public abstract record JsonTree
{
    public string ToJson()
    {
        var sb = new StringBuilder();
        WriteTo(sb);
        return sb.ToString();
    }

    public abstract void WriteTo(StringBuilder sb);

    /// <summary>
    /// Every position a JSON reader can report in this document, as the app writes it: <c>body</c> for the root, each
    /// node (<c>items[1].quantity</c>, member names always dotted; compare with <see cref="Dotted"/> keys), and the slot
    /// after an array's last element, where a reader stands when the bytes after that element are broken.
    /// </summary>
    public IEnumerable<string> FieldPaths() => ["body", .. ChildPaths("")];

    /// <summary>
    /// A reader position with its quoted member names (<c>['a b']</c>) written dotted, as <see cref="FieldPaths"/> writes
    /// them. System.Text.Json writes the name as it is between <c>['</c> and <c>']</c>, escaping nothing (<c>['\']</c> is
    /// the member named by one backslash).
    /// </summary>
    public static string Dotted(string path) =>
        Regex.Replace(path, @"\['(.*?)'\](?=\.|\[|$)", m => "." + m.Groups[1].Value).TrimStart('.');

    private IEnumerable<string> ChildPaths(string prefix)
    {
        var children = this switch
        {
            JsonArray array => array.Items.Select((item, i) => ($"{prefix}[{i}]", item)),
            JsonObject obj => obj.Members.Select(m => (prefix.Length == 0 ? m.Name : $"{prefix}.{m.Name}", m.Value)),
            _ => [],
        };
        foreach (var (path, child) in children)
        {
            yield return path;
            foreach (var descendant in child.ChildPaths(path))
            {
                yield return descendant;
            }
        }
        if (this is JsonArray { Items.Count: var count })
        {
            yield return $"{prefix}[{count}]";
        }
    }

    /// <summary>
    /// Whether an error key of the request shape (<c>items[2].quantity</c>) points into this document: every index names
    /// an element that exists and every name but the last a member that exists (the last may be a missing required
    /// field). Names match case-insensitively, as the app's JSON options do.
    /// </summary>
    public bool Reaches(IReadOnlyList<PathSegment> segments)
    {
        JsonTree? node = this;
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            var last = i == segments.Count - 1;
            switch (node, segment.Index)
            {
                case (JsonArray array, { } index):
                    if (index >= array.Items.Count)
                    {
                        return false;
                    }
                    node = array.Items[index];
                    break;
                case (JsonObject obj, null):
                    node = obj.Members.LastOrDefault(m => string.Equals(m.Name, segment.Name, StringComparison.OrdinalIgnoreCase)).Value;
                    if (node is null && !last)
                    {
                        return false;
                    }
                    break;
                default:
                    return false;
            }
        }
        return true;
    }
}

/// <summary>A token written as is: a number, <c>true</c>, <c>null</c>, or any text at all.</summary>
public sealed record JsonToken(string Raw) : JsonTree
{
    public static JsonToken Of(long value) => new(value.ToString(CultureInfo.InvariantCulture));

    public override void WriteTo(StringBuilder sb) => sb.Append(Raw);
}

/// <summary>A string; on the wire control characters, quotes and lone surrogates are escaped, the rest sent raw.</summary>
public sealed record JsonString(string Value) : JsonTree
{
    public override void WriteTo(StringBuilder sb) => WriteString(sb, Value);

    public static void WriteString(StringBuilder sb, string value)
    {
        sb.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                sb.Append(c).Append(value[++i]);
            }
            else if (c < 0x20 || char.IsSurrogate(c))
            {
                sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else if (c is '"' or '\\')
            {
                sb.Append('\\').Append(c);
            }
            else
            {
                sb.Append(c);
            }
        }
        sb.Append('"');
    }
}

public sealed record JsonArray(IReadOnlyList<JsonTree> Items) : JsonTree
{
    public override void WriteTo(StringBuilder sb)
    {
        sb.Append('[');
        for (var i = 0; i < Items.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }
            Items[i].WriteTo(sb);
        }
        sb.Append(']');
    }
}

/// <summary>An object; members keep their order and may repeat a name.</summary>
public sealed record JsonObject(IReadOnlyList<(string Name, JsonTree Value)> Members) : JsonTree
{
    public JsonObject(params (string Name, JsonTree Value)[] members) : this((IReadOnlyList<(string, JsonTree)>)members)
    {
    }

    public override void WriteTo(StringBuilder sb)
    {
        sb.Append('{');
        for (var i = 0; i < Members.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }
            JsonString.WriteString(sb, Members[i].Name);
            sb.Append(':');
            Members[i].Value.WriteTo(sb);
        }
        sb.Append('}');
    }
}

/// <summary>One step of a field path: a member name or an array index.</summary>
public readonly record struct PathSegment(string Name, int? Index)
{
    /// <summary>
    /// "orders[3].items[0].product_id" → orders, [3], items, [0], product_id (a body that is an array starts with an
    /// index: "[0].route"); null when it is not such a path.
    /// </summary>
    public static IReadOnlyList<PathSegment>? Parse(string path)
    {
        var match = Regex.Match(path, @"^(?:(?<seg>[a-z_]+)|\[(?<idx>\d{1,9})\])(?:\[(?<idx>\d{1,9})\]|\.(?<seg>[a-z_]+))*$");
        if (!match.Success)
        {
            return null;
        }
        return [.. match.Groups["seg"].Captures.Select(c => (c.Index, Segment: new PathSegment(c.Value, null)))
            .Concat(match.Groups["idx"].Captures.Select(c => (c.Index, Segment: new PathSegment("", int.Parse(c.Value, CultureInfo.InvariantCulture)))))
            .OrderBy(s => s.Index)
            .Select(s => s.Segment)];
    }
}
