using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExBuy.Load;

/// <summary>One step of a fault timeline: at <see cref="At"/> (from the start of the measured phase) the target's rules become <see cref="Rules"/>.</summary>
public sealed record FaultStep(TimeSpan At, string Label, JsonArray Rules)
{
    /// <summary>"10s", "12.5s".</summary>
    public string AtText => FaultTimeline.Seconds(At);
}

/// <summary>
/// <c>run --faults FILE</c>: the fault rules to set on the target over the run, through its admin API
/// (<c>PUT /api/admin/faults</c>). Either explicit steps (<c>{"steps": [{"at": "10s", "label": "…", "rules": […]}]}</c>) or a
/// seeded random timeline (<c>{"random": {"seed", "min_hold", "max_hold", "calm_between", "choices"}}</c>) generated up to the
/// end of the measured phase. Every problem is a <see cref="FormatException"/> naming the step or field.
/// </summary>
public sealed class FaultTimeline
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    /// <summary>The fields of a rule, as the admin API reads them.</summary>
    public static readonly string[] RuleFields = ["route", "delay_ms", "db_delay_ms", "error_status", "percent", "until"];
    private static readonly string[] TopFields = ["description", "steps", "random"];
    private static readonly string[] StepFields = ["at", "label", "rules"];
    private static readonly string[] RandomFields = ["seed", "min_hold", "max_hold", "calm_between", "choices"];
    private static readonly string[] ChoiceFields = ["label", "rules"];
    public const string CalmLabel = "calm";

    public required string Path { get; init; }
    public string? Description { get; init; }
    /// <summary>"steps" or "random".</summary>
    public required string Source { get; init; }
    /// <summary>The seed of a random timeline (its own, else the run's --seed); null for steps.</summary>
    public long? Seed { get; init; }
    public required IReadOnlyList<FaultStep> Steps { get; init; }

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", Inv) + "s";

    /// <summary>Reads and checks a timeline for a measured phase of <paramref name="runLength"/>; <paramref name="runSeed"/> seeds a random one without its own seed.</summary>
    public static FaultTimeline Load(string path, TimeSpan runLength, long runSeed)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new FormatException($"cannot read: {e.Message}"); }
        return Parse(text, path, runLength, runSeed);
    }

    public static FaultTimeline Parse(string text, string path, TimeSpan runLength, long runSeed)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new FormatException($"not JSON ({e.Message})"); }
        if (root is not JsonObject top) throw new FormatException("expected an object with \"steps\" (or \"random\")");
        Known(top, TopFields, "the timeline");
        var description = top["description"] is null ? null : Str(top["description"], "description");
        var hasSteps = top.ContainsKey("steps");
        var hasRandom = top.ContainsKey("random");
        if (hasSteps == hasRandom) throw new FormatException("give either \"steps\" or \"random\" (exactly one)");
        if (hasSteps)
        {
            var steps = ParseSteps(top["steps"], runLength);
            return new FaultTimeline { Path = path, Description = description, Source = "steps", Steps = steps };
        }
        var (seed, generated) = Random(top["random"], runLength, runSeed);
        return new FaultTimeline { Path = path, Description = description, Source = "random", Seed = seed, Steps = generated };
    }

    private static List<FaultStep> ParseSteps(JsonNode? node, TimeSpan runLength)
    {
        if (node is not JsonArray array) throw new FormatException("steps: expected an array of {\"at\", \"label\", \"rules\"}");
        if (array.Count == 0) throw new FormatException("steps: empty (give at least one step, e.g. {\"at\": \"0s\", \"label\": \"baseline\", \"rules\": []})");
        var steps = new List<FaultStep>();
        for (var i = 0; i < array.Count; i++)
        {
            var where = $"steps[{i}]";
            if (array[i] is not JsonObject o) throw new FormatException($"{where}: expected an object with \"at\", \"label\", \"rules\"");
            var label = o["label"] is null ? $"step {i + 1}" : Str(o["label"], $"{where}.label");
            where = $"{where} (\"{label}\")";
            Known(o, StepFields, where);
            if (!o.ContainsKey("at")) throw new FormatException($"{where}: \"at\" is required (e.g. \"10s\")");
            var at = Duration(o["at"], $"{where}.at");
            if (!o.ContainsKey("rules")) throw new FormatException($"{where}: \"rules\" is required ([] for no faults)");
            var rules = Rules(o["rules"], $"{where}.rules");
            if (steps.Count > 0 && at <= steps[^1].At)
                throw new FormatException($"{where}: at {Seconds(at)} is not after the previous step's {steps[^1].AtText} (steps must be in increasing \"at\" order)");
            if (at >= runLength)
                throw new FormatException($"{where}: at {Seconds(at)} is at or after the end of the run ({Seconds(runLength)}: ramp-up + --duration + ramp-down)");
            steps.Add(new FaultStep(at, label, rules));
        }
        return steps;
    }

    private static (long Seed, List<FaultStep> Steps) Random(JsonNode? node, TimeSpan runLength, long runSeed)
    {
        if (node is not JsonObject o) throw new FormatException("random: expected an object with \"min_hold\", \"max_hold\", \"choices\" (and optionally \"seed\", \"calm_between\")");
        Known(o, RandomFields, "random");
        long seed = runSeed;
        if (o["seed"] is { } s)
        {
            if (s is not JsonValue sv || sv.GetValueKind() != JsonValueKind.Number || !sv.TryGetValue<long>(out seed))
                throw new FormatException("random.seed: expected an integer");
        }
        if (!o.ContainsKey("min_hold")) throw new FormatException("random.min_hold: required (e.g. \"5s\")");
        if (!o.ContainsKey("max_hold")) throw new FormatException("random.max_hold: required (e.g. \"15s\")");
        var min = Duration(o["min_hold"], "random.min_hold");
        var max = Duration(o["max_hold"], "random.max_hold");
        if (min < TimeSpan.FromMilliseconds(100)) throw new FormatException($"random.min_hold: at least 100ms (got {Seconds(min)})");
        if (max < min) throw new FormatException($"random.max_hold: {Seconds(max)} is less than min_hold {Seconds(min)}");
        var calmBetween = true;
        if (o["calm_between"] is { } c)
        {
            if (c.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)) throw new FormatException("random.calm_between: expected true or false");
            calmBetween = c.GetValue<bool>();
        }
        if (o["choices"] is not JsonArray choices || choices.Count == 0)
            throw new FormatException("random.choices: expected a non-empty array of {\"label\", \"rules\"}");
        var options = new List<(string Label, JsonArray Rules)>();
        for (var i = 0; i < choices.Count; i++)
        {
            var where = $"random.choices[{i}]";
            if (choices[i] is not JsonObject ch) throw new FormatException($"{where}: expected an object with \"label\" and \"rules\"");
            var label = ch["label"] is null ? $"choice {i + 1}" : Str(ch["label"], $"{where}.label");
            where = $"{where} (\"{label}\")";
            Known(ch, ChoiceFields, where);
            if (!ch.ContainsKey("rules")) throw new FormatException($"{where}: \"rules\" is required");
            options.Add((label, Rules(ch["rules"], $"{where}.rules")));
        }
        return (seed, Generate(seed, min, max, calmBetween, options, runLength));
    }

    /// <summary>
    /// The random timeline: from 0, windows held for a uniform draw in [min, max] (rounded to 100 ms), a choice picked by the seed
    /// each time, with a rule-less "calm" window first and between choices when <paramref name="calmBetween"/>; up to <paramref name="runLength"/>.
    /// </summary>
    public static List<FaultStep> Generate(long seed, TimeSpan min, TimeSpan max, bool calmBetween, IReadOnlyList<(string Label, JsonArray Rules)> choices, TimeSpan runLength)
    {
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        var steps = new List<FaultStep>();
        var t = TimeSpan.Zero;
        var calm = calmBetween;
        while (t < runLength)
        {
            var holdMs = min.TotalMilliseconds + random.NextDouble() * (max - min).TotalMilliseconds;
            var hold = TimeSpan.FromMilliseconds(Math.Max(100, Math.Round(holdMs / 100) * 100));
            if (calm) steps.Add(new FaultStep(t, CalmLabel, []));
            else
            {
                var (label, rules) = choices[random.Next(choices.Count)];
                steps.Add(new FaultStep(t, label, (JsonArray)rules.DeepClone()));
            }
            if (calmBetween) calm = !calm;
            t += hold;
        }
        return steps;
    }

    private static JsonArray Rules(JsonNode? node, string where)
    {
        if (node is not JsonArray array) throw new FormatException($"{where}: expected an array of rules ([] for no faults)");
        var rules = new JsonArray();
        for (var i = 0; i < array.Count; i++) rules.Add(Rule(array[i], $"{where}[{i}]"));
        return rules;
    }

    /// <summary>One rule, checked locally (the target checks it again at the pre-flight); only the fields given are kept.</summary>
    private static JsonObject Rule(JsonNode? node, string where)
    {
        if (node is not JsonObject o) throw new FormatException($"{where}: expected an object with {string.Join(", ", RuleFields)}");
        Known(o, RuleFields, where);
        var rule = new JsonObject();
        foreach (var field in RuleFields)
        {
            if (!o.TryGetPropertyValue(field, out var v) || v is null) continue;
            var kind = v.GetValueKind();
            switch (field)
            {
                case "route":
                    var route = Str(v, $"{where}.route");
                    if (!route.StartsWith('/')) throw new FormatException($"{where}.route: '{route}' is not a route template (/api/products/{{id}}) nor a prefix ending in * (/api/orders*)");
                    rule[field] = route;
                    break;
                case "delay_ms" or "db_delay_ms":
                    if (kind != JsonValueKind.Number || !(v.GetValue<double>() is var ms && ms >= 0 && double.IsFinite(ms)))
                        throw new FormatException($"{where}.{field}: expected milliseconds, a number ≥ 0");
                    rule[field] = v.DeepClone();
                    break;
                case "error_status":
                    if (kind != JsonValueKind.Number || !((JsonValue)v).TryGetValue<int>(out var status) || status is < 400 or > 599)
                        throw new FormatException($"{where}.error_status: expected an HTTP status from 400 to 599");
                    rule[field] = status;
                    break;
                case "percent":
                    if (kind != JsonValueKind.Number || v.GetValue<double>() is < 0 or > 100)
                        throw new FormatException($"{where}.percent: expected a percentage from 0 to 100");
                    rule[field] = v.DeepClone();
                    break;
                case "until":
                    var until = Str(v, $"{where}.until");
                    if (!DateTimeOffset.TryParse(until, Inv, DateTimeStyles.None, out _))
                        throw new FormatException($"{where}.until: '{until}' is not an ISO-8601 time (e.g. 2026-12-02T12:00:00Z)");
                    rule[field] = until;
                    break;
            }
        }
        if (rule["delay_ms"] is null && rule["db_delay_ms"] is null && rule["error_status"] is null)
            throw new FormatException($"{where}: the rule injects nothing: give delay_ms, db_delay_ms or error_status");
        return rule;
    }

    private static void Known(JsonObject o, string[] fields, string where)
    {
        foreach (var (key, _) in o)
            if (Array.IndexOf(fields, key) < 0)
                throw new FormatException($"{where}: unknown field \"{key}\" (known: {string.Join(", ", fields)})");
    }

    private static string Str(JsonNode? n, string where) =>
        n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new FormatException($"{where}: expected a string");

    private static TimeSpan Duration(JsonNode? n, string where)
    {
        if (n is JsonValue v)
        {
            if (v.GetValueKind() == JsonValueKind.Number && v.GetValue<double>() is var secs && secs >= 0 && double.IsFinite(secs)) return TimeSpan.FromSeconds(secs);
            if (v.TryGetValue<string>(out var s) && Options.TryParseDuration(s, out var d)) return d;
        }
        throw new FormatException($"{where}: {n?.ToJsonString() ?? "null"} is not a duration (examples: \"0s\", \"10s\", \"1m30s\")");
    }

    /// <summary>"db_delay 100ms on every route", "error 503 at 20% on /api/orders*", "no faults".</summary>
    public static string Describe(JsonArray rules)
    {
        if (rules.Count == 0) return "no faults";
        return string.Join("; ", rules.OfType<JsonObject>().Select(DescribeRule));
    }

    private static string DescribeRule(JsonObject r)
    {
        string Ms(JsonNode? n) => (ResultFile.Num(n) ?? 0).ToString("0.###", Inv) + "ms";
        var kinds = new List<string>();
        if (r["delay_ms"] is { } d) kinds.Add($"delay {Ms(d)}");
        if (r["db_delay_ms"] is { } db) kinds.Add($"db_delay {Ms(db)}");
        if (r["error_status"] is { } e) kinds.Add($"error {ResultFile.Long(e).ToString(Inv)}");
        var text = string.Join(" + ", kinds);
        if (ResultFile.Num(r["percent"]) is double p && p < 100) text += $" at {p.ToString("0.###", Inv)}%";
        text += ResultFile.Str(r["route"]) is { } route ? $" on {route}" : " on every route";
        if (ResultFile.Str(r["until"]) is { } until) text += $" until {until}";
        return text;
    }

    /// <summary>What the result records as <c>fault_timeline</c>.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["file"] = Path, ["source"] = Source };
        if (Seed is long s) o["seed"] = s;
        if (Description is not null) o["description"] = Description;
        o["steps"] = Steps.Count;
        return o;
    }
}
