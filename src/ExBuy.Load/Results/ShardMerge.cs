using System.Globalization;
using System.Text.Json.Nodes;

namespace ExBuy.Load;

/// <summary>An end snapshot `merge --base-url` read from the target itself, after every shard had finished.</summary>
public sealed record EndSnapshot(string BaseUrl, DateTimeOffset At, DateTimeOffset DoneAt, IReadOnlyDictionary<long, long?> Stock);

/// <summary>
/// The correctness verdict of the n shards of one run (<c>run --shard i/n</c>), from their ledgers. One shard cannot verify stock alone
/// (the others write to the same products); together they can, exactly: for every product, the stock read before any shard wrote
/// − Σ ordered − Σ reserved + Σ cancelled over every shard's ledger = the stock read after every shard's last write. Each shard reads
/// the start stock at set-up (before the common --start-at) and its ledger counts from there, warm-up included, so all ledgers and
/// snapshots cover one interval. Which snapshot precedes or follows which write is decided by the wall-clock times the shards record.
/// </summary>
public static class ShardMerge
{
    public const string UnverifiableEnd = "unverifiable: run merge with --base-url";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private sealed record Row(long? Start, long? End, long Ordered, long Reserved, long Cancelled, long Unknown);

    private sealed record Part(string Name, DateTimeOffset StartDone, DateTimeOffset FirstWrite, DateTimeOffset LastWrite, DateTimeOffset EndAt,
        Dictionary<long, Row> Products);

    /// <summary>Every product of the shards' ledgers (what `merge --base-url` reads).</summary>
    public static List<long> ProductIds(IEnumerable<ResultFile> parts) =>
        parts.SelectMany(p => (p.Ledger?["products"] as JsonArray ?? []).Select(x => ResultFile.Long(x?["id"]))).Distinct().Order().ToList();

    private static Part? Read(ResultFile f)
    {
        if (f.Ledger is not { } l) return null;
        DateTimeOffset T(JsonNode? n, string what) => ResultFile.Time(n) ?? throw ResultFile.Bad(f.Path, $"ledger.{what} is not a time");
        long? N(JsonNode? n) => ResultFile.Num(n) is double d ? (long)d : null;
        var products = new Dictionary<long, Row>();
        foreach (var p in l["products"] as JsonArray ?? [])
            products[ResultFile.Long(p?["id"])] = new Row(N(p?["start"]), N(p?["end"]), ResultFile.Long(p?["ordered"]), ResultFile.Long(p?["reserved"]),
                ResultFile.Long(p?["cancelled"]), ResultFile.Long(p?["unknown"]));
        return new Part($"shard {f.ShardText}", T(l["start_snapshot"]?["done_at"], "start_snapshot.done_at"), T(l["first_write_at"], "first_write_at"),
            T(l["last_write_at"], "last_write_at"), T(l["end_snapshot"]?["at"], "end_snapshot.at"), products);
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Inv);

    /// <summary>
    /// The merged <c>correctness</c> object. <paramref name="unusable"/>: why the ledgers cannot be added (a shard missing or given
    /// twice, merged with --force): then every product is unverifiable, never a violation.
    /// </summary>
    public static JsonObject Correctness(IReadOnlyList<ResultFile> files, EndSnapshot? fresh, IReadOnlyList<string> unusable)
    {
        var named = files.Select(f => (File: f, Name: $"shard {f.ShardText}")).ToList();
        // What one shard could judge alone (order totals, a negative stock it read) stays a violation, tagged with the shard.
        var others = new JsonArray(named.SelectMany(x =>
            (x.File.Correctness?["other_violations"] as JsonArray ?? []).Select(v => (JsonNode)$"{x.Name}: {ResultFile.Str(v)}")
            .Concat((x.File.Correctness?["violations"] as JsonArray ?? []).Select(v => (JsonNode)$"{x.Name}: product {ResultFile.Long(v?["product_id"])}: {ResultFile.Str(v?["detail"])}"))).ToArray());
        var parts = files.Select(Read).ToList();
        var ids = ProductIds(files);
        var partsJson = new JsonArray(named.Select(x => (JsonNode)new JsonObject
        {
            ["run_id"] = x.File.RunId, ["shard"] = x.File.ShardText, ["verdict"] = x.File.CorrectnessVerdict,
            ["orders_placed"] = x.File.Ledger?["orders_placed"]?.DeepClone(), ["unknown_writes"] = x.File.Ledger?["unknown_writes"]?.DeepClone(),
        }).ToArray());
        JsonObject Result(bool ok, string verdict, int verified, JsonArray violations, JsonArray unverifiable, string note, JsonObject? start, JsonObject? end) => new()
        {
            ["checked"] = true, ["ok"] = ok, ["verdict"] = verdict, ["products"] = ids.Count, ["verified"] = verified, ["unverifiable"] = unverifiable.Count,
            ["orders_placed"] = files.Sum(f => ResultFile.Long(f.Ledger?["orders_placed"])),
            ["unknown_writes"] = files.Sum(f => ResultFile.Long(f.Ledger?["unknown_writes"])),
            ["violations"] = violations, ["unverifiable_products"] = unverifiable, ["other_violations"] = (JsonArray)others.DeepClone(),
            ["start_snapshot"] = start, ["end_snapshot"] = end, ["parts"] = partsJson, ["note"] = note,
        };

        if (parts.All(p => p is null))
            return new JsonObject
            {
                ["checked"] = false, ["ok"] = others.Count == 0, ["products"] = 0, ["verified"] = 0, ["unverifiable"] = 0, ["violations"] = new JsonArray(),
                ["unverifiable_products"] = new JsonArray(), ["other_violations"] = others, ["parts"] = partsJson, ["note"] = "no shard recorded a ledger (the scenario does not write)",
            };
        var problems = unusable.ToList();
        foreach (var (x, p) in named.Zip(parts)) if (p is null) problems.Add($"{x.Name} ({x.File.Path}) has no ledger");
        if (problems.Count > 0)
        {
            var why = $"the shards' ledgers cannot be added ({string.Join("; ", problems)}): stock is verified only from all n shards of one run, each once";
            var all = new JsonArray(ids.Take(200).Select(id => (JsonNode)Product(id, null, null, 0, 0, 0, 0, "unverifiable", why)).ToArray());
            var forced = Result(others.Count == 0, others.Count == 0 ? "UNVERIFIABLE" : "VIOLATION", 0, [], all, "unverifiable: " + why, null, null);
            forced["unverifiable"] = ids.Count;
            return forced;
        }

        var ps = parts.Select(p => p!).ToList();
        var violations = new JsonArray();
        var unverifiableProducts = new JsonArray();
        var unverifiableCount = 0;
        var verified = 0;
        var endSources = new SortedSet<string>(StringComparer.Ordinal);
        var startSources = new SortedSet<string>(StringComparer.Ordinal);
        var endLate = false;
        foreach (var id in ids)
        {
            var holders = ps.Where(p => p.Products.ContainsKey(id)).ToList();
            long o = 0, r = 0, c = 0, u = 0;
            foreach (var h in holders) { var row = h.Products[id]; o += row.Ordered; r += row.Reserved; c += row.Cancelled; u += row.Unknown; }

            // Start: the readings taken before the first write of any shard that writes to this product; they must agree.
            var firstWrite = holders.Min(h => h.FirstWrite);
            var early = holders.Where(h => h.Products[id].Start is not null && h.StartDone <= firstWrite).ToList();
            long? start = null;
            string? startProblem = null;
            if (early.Count == 0)
                startProblem = "no shard read its stock before the first write to it (start every shard with the same --start-at)";
            else if (early.Select(h => h.Products[id].Start).Distinct().Count() > 1)
                startProblem = $"start snapshots differ: {string.Join(", ", early.Select(h => $"{h.Name} read {h.Products[id].Start}"))}";
            else
            {
                start = early[0].Products[id].Start;
                foreach (var h in early) startSources.Add(h.Name);
            }

            // End: merge's own reading, else the latest shard reading; valid only if taken after the last write of every shard that writes to it.
            var lastWrite = holders.Max(h => h.LastWrite);
            long? end = null;
            string? endProblem = null;
            if (fresh is not null)
            {
                end = fresh.Stock.GetValueOrDefault(id);
                if (end is null) endProblem = $"could not read its stock from {fresh.BaseUrl} at merge";
                else if (fresh.At < lastWrite) endProblem = $"merge read it at {Time(fresh.At)}, before the last write at {Time(lastWrite)} (clocks out of step?)";
            }
            else if (holders.Where(h => h.Products[id].End is not null).MaxBy(h => h.EndAt) is { } latest)
            {
                end = latest.Products[id].End;
                if (latest.EndAt < lastWrite)
                {
                    endLate = true;
                    var writer = holders.MaxBy(h => h.LastWrite)!;
                    endProblem = $"{UnverifiableEnd} (the latest end snapshot, {latest.Name}'s at {Time(latest.EndAt)}, precedes {writer.Name}'s last write at {Time(writer.LastWrite)})";
                }
                else endSources.Add(latest.Name);
            }
            else endProblem = "no shard could read its stock after the run";

            string state, detail;
            if (end is < 0) (state, detail) = ("violation", $"stock is negative ({end})");
            else if (endProblem is not null) (state, detail) = ("unverifiable", endProblem);
            else if (u > 0) (state, detail) = ("unverifiable", $"{u} write(s) with unknown outcome");
            else if (startProblem is not null) (state, detail) = ("unverifiable", startProblem);
            else
            {
                var expected = start!.Value - o - r + c;
                if (expected == end) { verified++; continue; }
                var diff = end!.Value - expected;
                (state, detail) = ("violation", $"expected {start} - {o} - {r} + {c} = {expected} over {holders.Count} shard ledger(s), found {end} ({(diff < 0 ? $"{-diff} unit(s) lost" : $"{diff} unit(s) invented")})");
            }
            var json = Product(id, start, end, o, r, c, u, state, detail);
            json["shards"] = new JsonObject(holders.Select(h => new KeyValuePair<string, JsonNode?>(h.Name, new JsonObject
            {
                ["start"] = h.Products[id].Start, ["end"] = h.Products[id].End, ["ordered"] = h.Products[id].Ordered, ["reserved"] = h.Products[id].Reserved,
                ["cancelled"] = h.Products[id].Cancelled, ["unknown"] = h.Products[id].Unknown,
            })));
            if (state == "violation") violations.Add(json);
            else if (unverifiableCount++ < 200) unverifiableProducts.Add(json);
        }

        var ok = violations.Count == 0 && others.Count == 0;
        var verdict = !ok ? "VIOLATION" : ids.Count > 0 && verified == 0 ? "UNVERIFIABLE" : "OK";
        var endText = fresh is not null
            ? $"end stock read by merge from {fresh.BaseUrl} at {Time(fresh.At)}: valid only if nothing wrote to the target between the shards' end and the merge"
            : endLate ? $"{UnverifiableEnd}: no shard's end snapshot was taken after every shard's last write"
            : $"end stock read by {string.Join(", ", endSources)} after every shard's last write";
        var note = $"merged from {files.Count} shards: per product, the stock read before any shard wrote − Σ ordered − Σ reserved + Σ cancelled over every shard's ledger " +
                   $"(warm-up included) = the stock read after every shard's last write; {endText}; valid only when nothing but these shards wrote to the target meanwhile";
        if (endLate && fresh is null) note = $"{UnverifiableEnd}: {note}";
        var startJson = new JsonObject { ["from"] = new JsonArray(startSources.Select(s => (JsonNode)s).ToArray()) };
        var endJson = fresh is not null
            ? new JsonObject { ["source"] = "merge --base-url", ["base_url"] = fresh.BaseUrl, ["at"] = Time(fresh.At), ["done_at"] = Time(fresh.DoneAt) }
            : new JsonObject { ["source"] = endLate ? null : string.Join(", ", endSources), ["valid"] = !endLate };
        var result = Result(ok, verdict, verified, violations, unverifiableProducts, note, startJson, endJson);
        result["unverifiable"] = unverifiableCount;
        return result;
    }

    private static JsonObject Product(long id, long? start, long? end, long o, long r, long c, long u, string state, string detail) => new()
    {
        ["product_id"] = id, ["start"] = start, ["end"] = end, ["ordered"] = o, ["reserved"] = r, ["cancelled"] = c, ["unknown_writes"] = u,
        ["state"] = state, ["detail"] = detail,
    };

    /// <summary>Why shard results do not make one whole run: a part that is no shard, different n, a shard twice or missing.</summary>
    public static List<string> StructureProblems(IReadOnlyList<ResultFile> parts)
    {
        var shards = parts.Where(p => p.Shard is not null).ToList();
        var problems = new List<string>();
        if (shards.Count == 0) return problems;
        var plain = parts.Where(p => p.Shard is null).ToList();
        if (plain.Count > 0)
            problems.Add($"{string.Join(", ", plain.Select(p => p.Path))} {(plain.Count == 1 ? "is not a shard result" : "are not shard results")} (run --shard i/n), the others are");
        var counts = shards.Select(p => p.ShardCount).Distinct().ToList();
        if (counts.Count > 1)
        {
            problems.Add($"different shard counts: {string.Join(", ", shards.Select(p => $"{p.Path} is shard {p.ShardText}"))}");
            return problems;
        }
        var n = counts[0]!.Value;
        foreach (var g in shards.GroupBy(p => p.ShardIndex).Where(g => g.Count() > 1).OrderBy(g => g.Key))
            problems.Add($"shard {g.Key}/{n} given {g.Count()} times ({string.Join(", ", g.Select(p => p.Path))})");
        var missing = Enumerable.Range(1, n).Where(i => shards.All(p => p.ShardIndex != i)).ToList();
        if (missing.Count > 0)
            problems.Add($"{(missing.Count == 1 ? "shard" : "shards")} {string.Join(", ", missing.Select(i => $"{i}/{n}"))} missing " +
                         $"(given: {string.Join(", ", shards.OrderBy(p => p.ShardIndex).Select(p => p.ShardText).Distinct())}): merge needs every shard of the run exactly once");
        return problems;
    }

    /// <summary>Shards that were not started as one run: different seed, --start-at, totals, model or phases.</summary>
    public static List<string> PlanProblems(IReadOnlyList<ResultFile> parts)
    {
        var shards = parts.Where(p => p.Shard is not null).ToList();
        string Plan(ResultFile p)
        {
            var s = p.Shard!;
            var c = p.Config;
            return string.Create(Inv, $"seed {s["seed"]?.ToJsonString()}, start-at {ResultFile.Str(s["start_at"]) ?? "none"}, {ResultFile.Str(c["model"])} " +
                $"{(ResultFile.Str(c["model"]) == "open" ? $"rate {ResultFile.Num(s["total_rate"])} max-vus {ResultFile.Num(s["total_max_vus"])}" : $"vus {ResultFile.Num(s["total_vus"])}")}, " +
                $"duration {ResultFile.Num(c["duration_s"])} s, ramp-up {ResultFile.Num(c["ramp_up_s"])} s, ramp-down {ResultFile.Num(c["ramp_down_s"])} s, warm-up {ResultFile.Num(c["warmup_s"])} s");
        }
        var plans = shards.Select(p => (p, Plan: Plan(p))).ToList();
        if (plans.Select(x => x.Plan).Distinct().Count() <= 1) return [];
        return [$"shards of different runs: {string.Join("; ", plans.Select(x => $"{x.p.Path} ({x.p.ShardText}): {x.Plan}"))}"];
    }

    /// <summary>
    /// The shards' fault windows merged by index when every shard has the same windows (label and offsets): counts summed, p50/p99 from
    /// the added window histograms (null when a shard's file has none), rps over the window. Null when no shard ran --faults.
    /// </summary>
    public static (JsonArray? Windows, string? Note) FaultWindows(IReadOnlyList<ResultFile> parts)
    {
        var lists = parts.Select(p => p.Json["faults"] as JsonArray).ToList();
        if (lists.All(l => l is null)) return (null, null);
        string Shape(JsonArray? l) => l is null ? "none" : string.Join("|", l.Select(w => $"{ResultFile.Str(w?["label"])}@{ResultFile.Num(w?["start_s"])}"));
        if (lists.Select(Shape).Distinct().Count() > 1) return (null, "fault windows left out: the shards' timelines differ (each shard must run the same --faults file)");
        var merged = new JsonArray();
        var exact = true;
        for (var i = 0; i < lists[0]!.Count; i++)
        {
            var ws = lists.Select(l => (JsonObject)l![i]!).ToList();
            var stats = ws.Select(w => w["stats"] as JsonObject ?? []).ToList();
            long S(string n) => stats.Sum(s => ResultFile.Long(s[n]));
            var h = Hdr.New();
            var all = ws.All(w => ResultFile.Str(w["histogram"]) is not null);
            if (all) foreach (var w in ws) h.Add(Hdr.Decode(ResultFile.Str(w["histogram"])!));
            else exact = false;
            var start = ResultFile.Num(ws[0]["start_s"]) ?? 0;
            var end = ws.Max(w => ResultFile.Num(w["end_s"]) ?? 0);
            var requests = S("requests");
            var w0 = (JsonObject)ws[0].DeepClone();
            w0["end_s"] = end;
            w0["applied_at"] = ws.Select(w => ResultFile.Str(w["applied_at"])).Where(a => a is not null).Order(StringComparer.Ordinal).FirstOrDefault();
            var errors = ws.Select((w, k) => ResultFile.Str(w["error"]) is { } e ? $"shard {parts[k].ShardText}: {e}" : null).Where(e => e is not null).ToList();
            w0["error"] = errors.Count == 0 ? null : string.Join("; ", errors);
            w0["stats"] = new JsonObject
            {
                ["requests"] = requests, ["errors"] = S("errors"), ["error_rate"] = requests == 0 ? 0 : Math.Round((double)S("errors") / requests, 3),
                ["rps"] = end > start ? Math.Round(requests / (end - start), 3) : 0,
                ["p50_ms"] = all && h.TotalCount > 0 ? Math.Round(Hdr.PercentileMs(h, 50), 3) : null,
                ["p99_ms"] = all && h.TotalCount > 0 ? Math.Round(Hdr.PercentileMs(h, 99), 3) : null,
                ["faulted"] = S("faulted"),
            };
            w0["histogram"] = all ? Hdr.Encode(h) : null;
            merged.Add(w0);
        }
        return (merged, exact ? "fault windows merged by index: counts summed, p50/p99 from the added window histograms"
            : "fault windows merged by index: counts summed; p50/p99 null (a shard's file carries no window histograms)");
    }
}
