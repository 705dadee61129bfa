using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExBuy.Load;

/// <summary>One operation of load/scenarios.json: the request it sends, what counts as success, its effect on stock.</summary>
public sealed class OperationDef
{
    public required string Name { get; init; }
    public required string Method { get; init; }

    /// <summary>The method as the shared <see cref="System.Net.Http.HttpMethod"/> instance (HttpClient's fast path for known methods).</summary>
    public HttpMethod HttpMethod => field ??= HttpMethod.Parse(Method);
    public required string Path { get; init; }
    public JsonObject? Body { get; init; }
    public string? MultipartField { get; init; }
    public int MultipartBytes { get; init; }
    public required int[] Expect { get; init; }
    public required string Effect { get; init; }

    /// <summary>Every "{name}" parameter the path and body use.</summary>
    public IReadOnlySet<string> Parameters { get; init; } = new HashSet<string>();

    public bool Uses(string parameter) => Parameters.Contains(parameter);
}

public sealed class ScenarioDef
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public string Optimize { get; init; } = "true";
    public string LockType { get; init; } = "optimistic";
    public int? HotProducts { get; init; }
    public required IReadOnlyList<KeyValuePair<string, double>> Weights { get; init; }
    /// <summary>k6 thresholds: metric → expressions.</summary>
    public IReadOnlyList<KeyValuePair<string, string[]>> Thresholds { get; init; } = [];

    public bool Writes(ScenarioFile file) => Weights.Any(w => file.Operations[w.Key].Effect != "none");
}

public sealed class ScenarioFile
{
    public static readonly string[] Effects = ["none", "order", "reserve", "cancel"];
    public static readonly string[] KnownParameters =
        ["product", "page", "review_page", "order", "own_order", "optimize", "ordering", "term", "lock_type", "user", "quantity", "rating", "text", "items", "orders"];

    public required string Path { get; init; }
    public int Version { get; init; }
    public required string[] SearchTerms { get; init; }
    public required IReadOnlyDictionary<string, OperationDef> Operations { get; init; }
    public required IReadOnlyDictionary<string, ScenarioDef> Scenarios { get; init; }

    /// <summary>load/scenarios.json found by walking up from <paramref name="startDirs"/> in order.</summary>
    public static string? Find(params string[] startDirs)
    {
        foreach (var start in startDirs)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "load", "scenarios.json");
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    /// <exception cref="FormatException">the file does not follow the schema (the message says where).</exception>
    public static ScenarioFile Load(string path)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new FormatException($"{path}: not valid JSON: {e.Message}"); }
        if (root is not JsonObject obj) throw new FormatException($"{path}: the top level must be an object");

        if (obj["version"] is JsonValue ver0 && ver0.TryGetValue<int>(out var v0) && v0 > 1)
            throw new FormatException($"{path}: version {v0} is newer than this runner reads (1)");
        var terms = (obj["search_terms"] as JsonArray)?.Select(t => t?.GetValue<string>() ?? "").Where(t => t.Length > 0).ToArray() ?? [];
        if (terms.Length == 0) terms = ["pro"];

        var ops = new Dictionary<string, OperationDef>(StringComparer.Ordinal);
        if (obj["operations"] is not JsonObject opsObj) throw new FormatException($"{path}: 'operations' must be an object");
        foreach (var (name, node) in opsObj)
        {
            if (node is not JsonObject o) throw new FormatException($"{path}: operations.{name} must be an object");
            string Str(string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new FormatException($"{path}: operations.{name}.{key} must be a string");
            var method = Str("method").ToUpperInvariant();
            var opPath = Str("path");
            var effect = Str("effect");
            if (!Effects.Contains(effect)) throw new FormatException($"{path}: operations.{name}.effect '{effect}' is not one of {string.Join(", ", Effects)}");
            if (o["expect"] is not JsonArray exp || exp.Count == 0) throw new FormatException($"{path}: operations.{name}.expect must be a non-empty array of statuses");
            var expect = exp.Select(e => e is JsonValue v && v.TryGetValue<int>(out var i) ? i : throw new FormatException($"{path}: operations.{name}.expect must hold integers")).ToArray();
            JsonObject? body = null;
            if (o["body"] is JsonNode b)
            {
                body = b as JsonObject ?? throw new FormatException($"{path}: operations.{name}.body must be an object");
            }
            string? field = null; var bytes = 0;
            if (o["multipart"] is JsonObject mp)
            {
                field = mp["field"]?.GetValue<string>() ?? "file";
                bytes = mp["bytes"]?.GetValue<int>() ?? 1024;
            }
            var parameters = new HashSet<string>(StringComparer.Ordinal);
            Templates.CollectParameters(opPath, parameters);
            if (body is not null) Templates.CollectParameters(body, parameters);
            foreach (var p in parameters)
                if (!KnownParameters.Contains(p)) throw new FormatException($"{path}: operations.{name} uses the unknown parameter {{{p}}}");
            ops[name] = new OperationDef
            {
                Name = name, Method = method, Path = opPath, Body = body, MultipartField = field, MultipartBytes = bytes,
                Expect = expect, Effect = effect, Parameters = parameters,
            };
        }

        var scenarios = new Dictionary<string, ScenarioDef>(StringComparer.Ordinal);
        if (obj["scenarios"] is not JsonObject scObj) throw new FormatException($"{path}: 'scenarios' must be an object");
        foreach (var (name, node) in scObj)
        {
            if (node is not JsonObject s) throw new FormatException($"{path}: scenarios.{name} must be an object");
            if (s["weights"] is not JsonObject w || w.Count == 0) throw new FormatException($"{path}: scenarios.{name}.weights must be a non-empty object");
            var weights = new List<KeyValuePair<string, double>>();
            foreach (var (op, wn) in w)
            {
                if (!ops.ContainsKey(op)) throw new FormatException($"{path}: scenarios.{name}.weights names the unknown operation '{op}'");
                var weight = wn is JsonValue v && v.TryGetValue<double>(out var d) ? d : -1;
                if (!(weight >= 0)) throw new FormatException($"{path}: scenarios.{name}.weights.{op} must be a number >= 0");
                weights.Add(new(op, weight));
            }
            var thresholds = new List<KeyValuePair<string, string[]>>();
            if (s["thresholds"] is JsonObject th)
            {
                foreach (var (metric, exprs) in th)
                {
                    var list = exprs switch
                    {
                        JsonArray a => a.Select(x => x?.GetValue<string>() ?? "").ToArray(),
                        JsonValue v when v.TryGetValue<string>(out var one) => [one],
                        _ => throw new FormatException($"{path}: scenarios.{name}.thresholds.{metric} must be an array of strings"),
                    };
                    thresholds.Add(new(metric, list));
                }
            }
            var optimize = s["optimize"]?.ToString() ?? "true";
            if (optimize is not ("true" or "false" or "random")) throw new FormatException($"{path}: scenarios.{name}.optimize must be true, false or random");
            var lockType = s["lock_type"]?.GetValue<string>() ?? "optimistic";
            if (!Options.LockTypes.Contains(lockType)) throw new FormatException($"{path}: scenarios.{name}.lock_type must be one of {string.Join(", ", Options.LockTypes)}");
            scenarios[name] = new ScenarioDef
            {
                Name = name,
                Description = s["description"]?.GetValue<string>() ?? "",
                Optimize = optimize,
                LockType = lockType,
                HotProducts = s["hot_products"] is JsonValue hv && hv.TryGetValue<int>(out var hot) ? hot : null,
                Weights = weights,
                Thresholds = thresholds,
            };
        }
        return new ScenarioFile
        {
            Path = System.IO.Path.GetFullPath(path),
            Version = obj["version"] is JsonValue vv && vv.TryGetValue<int>(out var ver) ? ver : 0,
            SearchTerms = terms, Operations = ops, Scenarios = scenarios,
        };
    }
}
