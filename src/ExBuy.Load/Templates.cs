using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ExBuy.Load;

/// <summary>"{name}" parameters in an operation's path and body.</summary>
public static partial class Templates
{
    [GeneratedRegex(@"\{([a-z_]+)\}")]
    private static partial Regex ParameterRegex();

    public static void CollectParameters(string text, ISet<string> into)
    {
        foreach (Match m in ParameterRegex().Matches(text)) into.Add(m.Groups[1].Value);
    }

    public static void CollectParameters(JsonNode? node, ISet<string> into)
    {
        switch (node)
        {
            case JsonObject o: foreach (var (_, v) in o) CollectParameters(v, into); break;
            case JsonArray a: foreach (var v in a) CollectParameters(v, into); break;
            case JsonValue v when v.TryGetValue<string>(out var s): CollectParameters(s, into); break;
        }
    }

    /// <summary>The path with every parameter replaced by its URL-escaped string form.</summary>
    public static string ExpandPath(string path, Func<string, JsonNode?> resolve)
    {
        if (!path.Contains('{'))
        {
            return path;
        }
        return ParameterRegex().Replace(path, m => Uri.EscapeDataString(AsString(resolve(m.Groups[1].Value))));
    }

    /// <summary>A copy of the body where a string that is exactly "{name}" becomes the parameter's JSON value and other strings are interpolated.</summary>
    public static JsonNode? ExpandBody(JsonNode? node, Func<string, JsonNode?> resolve)
    {
        switch (node)
        {
            case JsonObject o:
            {
                var copy = new JsonObject();
                foreach (var (k, v) in o) copy[k] = ExpandBody(v, resolve);
                return copy;
            }
            case JsonArray a:
            {
                var copy = new JsonArray();
                foreach (var v in a) copy.Add(ExpandBody(v, resolve));
                return copy;
            }
            case JsonValue v when v.TryGetValue<string>(out var s):
            {
                var m = ParameterRegex().Match(s);
                if (m.Success && m.Index == 0 && m.Length == s.Length) return resolve(m.Groups[1].Value)?.DeepClone();
                return JsonValue.Create(ParameterRegex().Replace(s, x => AsString(resolve(x.Groups[1].Value))));
            }
            default:
                return node?.DeepClone();
        }
    }

    private static string AsString(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };

    public static string Describe(IEnumerable<string> items)
    {
        var sb = new StringBuilder();
        foreach (var i in items) { if (sb.Length > 0) sb.Append(", "); sb.Append(i); }
        return sb.ToString();
    }
}
