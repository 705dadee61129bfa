using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Jint;
using Jint.Native;

namespace ExBuy.Api.Tests.K6;

/// <summary>One HTTP request a script sent, as the harness's <c>k6/http</c> stub saw and answered it.</summary>
public sealed record K6Request(
    int Vu,
    int Iteration,
    string Phase,
    string Method,
    string Url,
    string? RequestBody,
    string? RequestContentType,
    IReadOnlyDictionary<string, string> Headers,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyList<(int Min, int Max)>? ExpectedStatuses,
    int Status,
    string ResponseBody,
    IReadOnlyDictionary<string, string> ResponseHeaders,
    double DurationMs,
    string? Error)
{
    /// <summary>Whether the request's responseCallback counts its status as expected (k6's http_req_failed = 0).</summary>
    public bool Expected => ExpectedStatuses is null || ExpectedStatuses.Any(r => Status >= r.Min && Status <= r.Max);

    public Uri Uri => new(Url);
}

public sealed record K6Check(int Vu, int Iteration, string Phase, string Name, bool Passed, IReadOnlyDictionary<string, string> Tags);

public sealed record K6Sample(string Type, string Metric, double Value, IReadOnlyDictionary<string, string> Tags);

public sealed record K6Threshold(string Metric, string Expression, double Value, bool Ok);

/// <summary>What to run: a script of the repository, its environment, how many VUs and iterations.</summary>
public sealed class K6RunSpec
{
    public required string Script { get; init; }
    public Dictionary<string, string> Environment { get; init; } = [];
    public int Vus { get; init; } = 2;
    public int MinIterations { get; init; } = 60;
    public int MaxIterations { get; init; } = 200;
    /// <summary>Checked after <see cref="MinIterations"/>: true ends the run early.</summary>
    public Func<K6Run, bool>? Enough { get; init; }
    /// <summary>Where relative handleSummary paths are written (k6 writes them relative to its working directory).</summary>
    public string? WorkingDirectory { get; init; }
    public int Seed { get; init; } = 42;
}

/// <summary>Everything one harness run recorded.</summary>
public sealed class K6Run
{
    public JsonNode? Options { get; internal set; }
    public JsonNode? SetupData { get; internal set; }
    public List<K6Request> Requests { get; } = [];
    public List<K6Check> Checks { get; } = [];
    public List<K6Sample> Samples { get; } = [];
    public List<double> Sleeps { get; } = [];
    public Dictionary<string, (string Type, bool IsTime)> CustomMetrics { get; } = new(StringComparer.Ordinal);
    public List<string> IterationErrors { get; } = [];
    public int Iterations { get; internal set; }
    public Dictionary<string, string> SummaryOutputs { get; } = new(StringComparer.Ordinal);
    public List<K6Threshold> Thresholds { get; } = [];
    public TimeSpan Elapsed { get; internal set; }

    public IEnumerable<K6Request> IterationRequests => Requests.Where(r => r.Phase == "iteration");
}

/// <summary>
/// Runs a k6 script of this repository in Jint, the way k6 runs it, against a real ExBuy: the script is loaded as an
/// ES module, with stub modules <c>k6</c>, <c>k6/http</c> (synchronous <see cref="HttpClient"/> calls) and
/// <c>k6/metrics</c>, the init-context globals <c>open</c>, <c>__ENV</c>, <c>__VU</c>, <c>__ITER</c>; then
/// <c>options</c> is read, <c>setup()</c> runs once (its result goes to every VU through JSON, as in k6), each VU (its
/// own runtime, so its own module state) runs iterations of the default function in turn, and
/// <c>handleSummary()</c> gets a summary object built from what was recorded. Every request, check, metric sample
/// and sleep is recorded. Not emulated: concurrency, real durations and executors, cookies, redirects beyond
/// HttpClient's, <c>open(path, "b")</c>, <c>res.json(selector)</c>, <c>res.html()</c>.
/// </summary>
public sealed class K6Harness
{
    /// <summary>k6's built-in metrics a threshold may name, with their types.</summary>
    public static readonly IReadOnlyDictionary<string, string> BuiltinMetrics = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["http_reqs"] = "counter", ["http_req_duration"] = "trend", ["http_req_blocked"] = "trend",
        ["http_req_connecting"] = "trend", ["http_req_tls_handshaking"] = "trend", ["http_req_sending"] = "trend",
        ["http_req_waiting"] = "trend", ["http_req_receiving"] = "trend", ["http_req_failed"] = "rate",
        ["iterations"] = "counter", ["iteration_duration"] = "trend", ["dropped_iterations"] = "counter",
        ["data_sent"] = "counter", ["data_received"] = "counter", ["vus"] = "gauge", ["vus_max"] = "gauge",
        ["checks"] = "rate",
    };

    private static readonly Regex ThresholdExpression = new(
        @"^\s*(?<agg>avg|min|max|med|count|rate|value|p\((?<p>\d+(\.\d+)?)\))\s*(?<op><=|>=|<|>|===|==|!=)\s*(?<value>-?\d+(\.\d+)?)\s*$",
        RegexOptions.CultureInvariant);

    private static readonly Regex ThresholdKey = new(@"^(?<metric>[A-Za-z_][A-Za-z0-9_]*)(\{(?<tags>[^{}]*)\})?$", RegexOptions.CultureInvariant);

    private readonly string _root;
    private readonly K6RunSpec _spec;
    private readonly K6Run _run = new();
    private readonly HttpClient _http;
    private int _vu;
    private int _iteration;
    private string _phase = "init";

    private K6Harness(string root, K6RunSpec spec, HttpClient http)
    {
        _root = root;
        _spec = spec;
        _http = http;
    }

    /// <summary>The repository root: the folder above the test binaries that holds load/scenarios.json.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "load", "scenarios.json")) && Directory.Exists(Path.Combine(dir.FullName, "k6")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("No folder above " + AppContext.BaseDirectory + " holds load/scenarios.json and k6/");
    }

    /// <summary>
    /// Only the init context of a script or module (as <c>k6 inspect</c> does): read its exports, call them. No server
    /// is needed unless a called export sends requests.
    /// </summary>
    public static K6Script Init(string script, IDictionary<string, string> environment)
    {
        var harness = new K6Harness(RepositoryRoot(), new K6RunSpec { Script = script, Environment = new(environment) }, SharedClient);
        return new K6Script(harness, harness.NewRuntime(0));
    }

    private static readonly HttpClient SharedClient = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>A script after its init context ran, in VU 0.</summary>
    public sealed class K6Script
    {
        private readonly K6Harness _harness;
        private readonly Runtime _vu;

        internal K6Script(K6Harness harness, Runtime vu)
        {
            _harness = harness;
            _vu = vu;
        }

        private Runtime Vu => _vu;

        public K6Run Recorded => _harness._run;

        /// <summary>Declared custom metrics and k6's built-in ones, by type: what a threshold may name.</summary>
        public IReadOnlyDictionary<string, string> MetricTypes
        {
            get
            {
                var types = new Dictionary<string, string>(BuiltinMetrics, StringComparer.Ordinal);
                foreach (var (name, m) in _harness._run.CustomMetrics)
                {
                    types[name] = m.Type;
                }
                return types;
            }
        }

        public JsonNode? Export(string name) => Vu.Export(name);

        public JsonNode? Call(string name, params string[] jsonArguments)
        {
            _harness._phase = "setup";
            return Vu.Call(name, jsonArguments);
        }
    }

    public static K6Run Run(K6RunSpec spec)
    {
        var watch = Stopwatch.StartNew();
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 10, UseCookies = true };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        var harness = new K6Harness(RepositoryRoot(), spec, http);
        harness.Execute();
        harness._run.Elapsed = watch.Elapsed;
        return harness._run;
    }

    private void Execute()
    {
        // The first runtime is k6's "VU 0": options, setup() and handleSummary().
        var main = NewRuntime(0);
        _run.Options = main.Export("options");
        string setupJson = "null";
        if (main.HasExport("setup"))
        {
            _phase = "setup";
            var data = main.Call("setup");
            setupJson = data?.ToJsonString() ?? "null";
            _run.SetupData = data;
        }

        var vus = Enumerable.Range(1, Math.Max(1, _spec.Vus)).Select(NewRuntime).ToList();
        var iterationsPerVu = new int[vus.Count];
        for (var i = 0; i < _spec.MaxIterations; i++)
        {
            if (i >= _spec.MinIterations && _spec.Enough is not null && _spec.Enough(_run))
            {
                break;
            }
            var index = i % vus.Count;
            var vu = vus[index];
            _phase = "iteration";
            _vu = index + 1;
            _iteration = iterationsPerVu[index]++;
            vu.Engine.SetValue("__ITER", _iteration);
            try
            {
                vu.CallDefault(setupJson);
            }
            catch (Exception e) when (e is Jint.Runtime.JavaScriptException or JintException)
            {
                // k6 logs an exception thrown by an iteration and goes on with the next one.
                _run.IterationErrors.Add($"VU {_vu} iteration {_iteration}: {e.Message}");
            }
            _run.Iterations++;
        }

        if (main.HasExport("teardown"))
        {
            _phase = "teardown";
            _vu = 0;
            main.Call("teardown", setupJson);
        }

        if (main.HasExport("handleSummary"))
        {
            _phase = "summary";
            _vu = 0;
            var summaryData = BuildSummaryData();
            var result = main.Call("handleSummary", summaryData.ToJsonString());
            if (result is not JsonObject outputs)
            {
                throw new InvalidOperationException("handleSummary() must return an object of path → content");
            }
            foreach (var (path, value) in outputs)
            {
                var text = value is JsonValue v && v.TryGetValue<string>(out var s) ? s
                    : throw new InvalidOperationException($"handleSummary()['{path}'] is not a string");
                _run.SummaryOutputs[path] = text;
                if (path is "stdout" or "stderr")
                {
                    continue;
                }
                // k6 writes each other key as a file relative to its working directory (and does not create folders).
                var file = Path.IsPathRooted(path) ? path : Path.Combine(_spec.WorkingDirectory ?? _root, path);
                if (_spec.WorkingDirectory is not null || Path.IsPathRooted(path))
                {
                    File.WriteAllText(file, text);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Runtimes: one Jint engine per VU, as k6 gives each VU its own JavaScript runtime.

    internal sealed class Runtime(Engine engine, JsValue ns)
    {
        public Engine Engine { get; } = engine;
        private JsValue _setupData = JsValue.Undefined;
        private string? _setupJson;

        public bool HasExport(string name) => !ns.AsObject().Get(name).IsUndefined();

        public JsonNode? Export(string name)
        {
            var value = ns.AsObject().Get(name);
            return value.IsUndefined() ? null : JsonNode.Parse(Engine.Invoke("__k6_stringify", value).AsString());
        }

        public JsonNode? Call(string name, params string[] jsonArguments)
        {
            var fn = ns.AsObject().Get(name);
            if (fn.IsUndefined())
            {
                throw new InvalidOperationException($"the module exports no {name}");
            }
            var args = jsonArguments.Select(a => Engine.Invoke("__k6_parse", a)).ToArray();
            var result = Engine.Invoke(fn, args.Cast<object>().ToArray());
            var json = Engine.Invoke("__k6_stringify", result).AsString();
            return JsonNode.Parse(json);
        }

        public void CallDefault(string setupJson)
        {
            if (_setupJson != setupJson)
            {
                _setupData = Engine.Invoke("__k6_parse", setupJson);
                _setupJson = setupJson;
            }
            var fn = ns.AsObject().Get("default");
            if (fn.IsUndefined())
            {
                throw new InvalidOperationException("the script has no default function");
            }
            Engine.Invoke(fn, _setupData);
        }
    }

    private Runtime NewRuntime(int vu)
    {
        var inInit = true;
        var engine = new Engine(o => o
            .EnableModules(_root)
            .LimitRecursion(256)
            .TimeoutInterval(TimeSpan.FromSeconds(120)));
        var env = new JsonObject();
        foreach (var (key, value) in _spec.Environment)
        {
            env[key] = value;
        }
        engine.Execute($$"""
            globalThis.__k6_stringify = function (v) { return JSON.stringify(v === undefined ? null : v); };
            globalThis.__k6_parse = function (s) { return JSON.parse(s); };
            globalThis.__ENV = {{env.ToJsonString()}};
            (function () {
              // A seeded Math.random (mulberry32), one stream per VU: runs are reproducible.
              let a = {{(_spec.Seed * 7919) + vu}} >>> 0;
              Math.random = function () {
                a = (a + 0x6D2B79F5) | 0;
                let t = Math.imul(a ^ (a >>> 15), 1 | a);
                t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
                return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
              };
            })();
            """);
        engine.SetValue("__VU", vu);
        engine.SetValue("__ITER", 0);
        engine.SetValue("open", new Func<string, JsValue?, string>((path, mode) =>
        {
            if (!inInit)
            {
                throw new InvalidOperationException("the \"open\" function is only available in the init stage (i.e. the global scope)");
            }
            if (mode is not null && !mode.IsUndefined() && !mode.IsNull())
            {
                throw new NotSupportedException("open(path, mode) is not emulated by the harness");
            }
            return File.ReadAllText(ResolveFromCaller(engine, path));
        }));
        engine.SetValue("__k6_request", new Func<string, string>(json =>
        {
            if (inInit)
            {
                throw new InvalidOperationException("Making http requests in the init context is not supported");
            }
            return Request(json);
        }));
        engine.SetValue("__k6_check", new Action<string, bool, string>((name, passed, tags) =>
        {
            if (inInit)
            {
                throw new InvalidOperationException("check() is not available in the init context");
            }
            _run.Checks.Add(new K6Check(_vu, _iteration, _phase, name, passed, ParseTags(tags)));
        }));
        engine.SetValue("__k6_sleep", new Action<double>(seconds =>
        {
            if (double.IsNaN(seconds) || seconds < 0)
            {
                throw new InvalidOperationException($"sleep({seconds}): a duration >= 0 is expected");
            }
            _run.Sleeps.Add(seconds); // recorded, not slept: the harness measures correctness, not time
        }));
        engine.SetValue("__k6_metric", new Action<string, string, bool>((type, name, isTime) =>
        {
            if (!inInit)
            {
                throw new InvalidOperationException("metrics must be declared in the init context");
            }
            if (BuiltinMetrics.ContainsKey(name))
            {
                throw new InvalidOperationException($"metric {name} is a built-in k6 metric");
            }
            if (_run.CustomMetrics.TryGetValue(name, out var known) && known.Type != type)
            {
                throw new InvalidOperationException($"metric {name} is already a {known.Type}, not a {type}");
            }
            _run.CustomMetrics[name] = (type, isTime);
        }));
        engine.SetValue("__k6_sample", new Action<string, string, double, string>((type, name, value, tags) =>
        {
            if (inInit)
            {
                throw new InvalidOperationException("metrics can be added to only outside the init context");
            }
            _run.Samples.Add(new K6Sample(type, name, value, ParseTags(tags)));
        }));
        engine.Modules.Add("k6", K6Module);
        engine.Modules.Add("k6/http", HttpModule);
        engine.Modules.Add("k6/metrics", MetricsModule);
        var previous = (_phase, _vu);
        _phase = "init";
        _vu = vu;
        var specifier = _spec.Script.StartsWith("./", StringComparison.Ordinal) ? _spec.Script : "./" + _spec.Script;
        var ns = engine.Modules.Import(specifier);
        (_phase, _vu) = previous;
        inInit = false;
        return new Runtime(engine, ns);
    }

    /// <summary>k6's open(): relative to the module whose code calls it (at its top level: the module being initialised).</summary>
    private string ResolveFromCaller(Engine engine, string path)
    {
        if (Path.IsPathRooted(path))
        {
            return path;
        }
        var stack = engine.Advanced.StackTrace;
        var match = Regex.Match(stack, @"(?<file>/[^():\r\n]+\.js):\d+:\d+");
        if (!match.Success)
        {
            throw new InvalidOperationException("open(): cannot tell which module calls it from: " + stack);
        }
        var resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(match.Groups["file"].Value)!, path));
        if (!resolved.StartsWith(_root, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"open({path}) resolves outside the repository: {resolved}");
        }
        return resolved;
    }

    private static Dictionary<string, string> ParseTags(string json)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (JsonNode.Parse(json) is not JsonObject obj)
        {
            return tags;
        }
        foreach (var (key, value) in obj)
        {
            if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
            {
                throw new InvalidOperationException($"tag {key} is not a string: {value?.ToJsonString() ?? "null"}");
            }
            tags[key] = v.GetValue<string>();
        }
        return tags;
    }

    // ------------------------------------------------------------------------------------------------------------
    // k6/http: synchronous requests to the real server.

    private string Request(string json)
    {
        var r = JsonNode.Parse(json)!.AsObject();
        var method = r["method"]!.GetValue<string>();
        var url = r["url"]!.GetValue<string>();
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in r["headers"]!.AsObject())
        {
            headers[key] = value!.GetValue<string>();
        }
        var tags = ParseTags(r["tags"]!.ToJsonString());
        List<(int, int)>? expected = null;
        if (r["expected"] is JsonArray ranges)
        {
            expected = [.. ranges.Select(x => (x![0]!.GetValue<int>(), x[1]!.GetValue<int>()))];
        }

        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        string? bodyText = null;
        string? contentType = null;
        if (r["body"] is JsonObject body)
        {
            var kind = body["kind"]!.GetValue<string>();
            switch (kind)
            {
                case "string":
                    bodyText = body["value"]!.GetValue<string>();
                    request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(bodyText));
                    break;
                case "form":
                    request.Content = new FormUrlEncodedContent(body["fields"]!.AsArray()
                        .Select(f => new KeyValuePair<string, string>(f!["name"]!.GetValue<string>(), f["value"]!.GetValue<string>())));
                    bodyText = request.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                    break;
                case "multipart":
                    var form = new MultipartFormDataContent();
                    var described = new StringBuilder();
                    foreach (var part in body["parts"]!.AsArray())
                    {
                        var name = part!["name"]!.GetValue<string>();
                        var bytes = Encoding.UTF8.GetBytes(part["value"]!.GetValue<string>());
                        var content = new ByteArrayContent(bytes);
                        if (part["filename"] is JsonValue filename)
                        {
                            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(part["content_type"]!.GetValue<string>());
                            form.Add(content, name, filename.GetValue<string>());
                            described.Append(CultureInfo.InvariantCulture, $"{name}=<file {filename.GetValue<string>()} {bytes.Length} bytes>;");
                        }
                        else
                        {
                            form.Add(content, name);
                            described.Append(CultureInfo.InvariantCulture, $"{name}={part["value"]!.GetValue<string>()};");
                        }
                    }
                    request.Content = form;
                    bodyText = described.ToString();
                    break;
                default:
                    throw new InvalidOperationException("unknown body kind " + kind);
            }
        }
        foreach (var (key, value) in headers)
        {
            if (key.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
            {
                if (request.Content is null)
                {
                    continue;
                }
                request.Content.Headers.Remove(key);
                request.Content.Headers.TryAddWithoutValidation(key, value);
            }
            else if (!request.Headers.TryAddWithoutValidation(key, value))
            {
                throw new InvalidOperationException($"header {key} could not be set");
            }
        }
        contentType = request.Content?.Headers.ContentType?.ToString();

        var watch = Stopwatch.StartNew();
        int status;
        string responseBody;
        string? error = null;
        var responseHeaders = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var response = _http.Send(request);
            using var reader = new StreamReader(response.Content.ReadAsStream());
            responseBody = reader.ReadToEnd();
            status = (int)response.StatusCode;
            foreach (var h in response.Headers.Concat(response.Content.Headers))
            {
                var name = CanonicalHeaderKey(h.Key);
                responseHeaders[name] = responseHeaders.TryGetValue(name, out var existing)
                    ? existing + ", " + string.Join(", ", h.Value)
                    : string.Join(", ", h.Value);
            }
        }
        catch (HttpRequestException e)
        {
            status = 0;
            responseBody = "";
            error = e.Message;
        }
        var elapsed = watch.Elapsed.TotalMilliseconds;
        _run.Requests.Add(new K6Request(_vu, _iteration, _phase, method, url, bodyText, contentType,
            new Dictionary<string, string>(headers, StringComparer.OrdinalIgnoreCase), tags, expected, status, responseBody,
            responseHeaders, elapsed, error));

        var result = new JsonObject
        {
            ["status"] = status,
            ["status_text"] = status == 0 ? "" : $"{status} {(HttpStatusCode)status}",
            ["body"] = responseBody,
            ["url"] = url,
            ["proto"] = "HTTP/1.1",
            ["error"] = error ?? "",
            ["error_code"] = error is null ? 0 : 1000,
            ["headers"] = new JsonObject(responseHeaders.Select(h => new KeyValuePair<string, JsonNode?>(h.Key, h.Value))),
            ["timings"] = new JsonObject
            {
                ["duration"] = elapsed, ["waiting"] = elapsed, ["blocked"] = 0, ["connecting"] = 0,
                ["tls_handshaking"] = 0, ["sending"] = 0, ["receiving"] = 0,
            },
            ["request"] = new JsonObject
            {
                ["method"] = method, ["url"] = url, ["body"] = bodyText ?? "",
                ["headers"] = new JsonObject(headers.Select(h => new KeyValuePair<string, JsonNode?>(h.Key, h.Value))),
            },
        };
        return result.ToJsonString();
    }

    /// <summary>Go's textproto.CanonicalMIMEHeaderKey, which k6's res.headers keys follow.</summary>
    public static string CanonicalHeaderKey(string key)
    {
        var chars = key.ToLowerInvariant().ToCharArray();
        var upper = true;
        for (var i = 0; i < chars.Length; i++)
        {
            if (upper && chars[i] is >= 'a' and <= 'z')
            {
                chars[i] = (char)(chars[i] - 32);
            }
            upper = chars[i] == '-';
        }
        return new string(chars);
    }

    // ------------------------------------------------------------------------------------------------------------
    // handleSummary(): the object k6 hands it (its legacy summary shape), built from what was recorded.

    private sealed record Point(double Value, IReadOnlyDictionary<string, string> Tags);

    private Dictionary<string, (string Type, bool IsTime, List<Point> Points)> Series()
    {
        var series = new Dictionary<string, (string, bool, List<Point>)>(StringComparer.Ordinal);
        void Add(string metric, string type, bool isTime, double value, IReadOnlyDictionary<string, string> tags)
        {
            if (!series.TryGetValue(metric, out var s))
            {
                s = (type, isTime, []);
                series[metric] = s;
            }
            s.Item3.Add(new Point(value, tags));
        }
        foreach (var r in _run.Requests)
        {
            var tags = new Dictionary<string, string>(r.Tags, StringComparer.Ordinal)
            {
                ["method"] = r.Method,
                ["status"] = r.Status.ToString(CultureInfo.InvariantCulture),
                ["expected_response"] = r.Expected ? "true" : "false",
            };
            tags.TryAdd("name", r.Url);
            Add("http_reqs", "counter", false, 1, tags);
            Add("http_req_duration", "trend", true, r.DurationMs, tags);
            Add("http_req_waiting", "trend", true, r.DurationMs, tags);
            if (r.ExpectedStatuses is not null)
            {
                Add("http_req_failed", "rate", false, r.Expected ? 0 : 1, tags);
            }
        }
        foreach (var c in _run.Checks)
        {
            var tags = new Dictionary<string, string>(c.Tags, StringComparer.Ordinal) { ["check"] = c.Name };
            Add("checks", "rate", false, c.Passed ? 1 : 0, tags);
        }
        for (var i = 0; i < _run.Iterations; i++)
        {
            Add("iterations", "counter", false, 1, new Dictionary<string, string>());
        }
        foreach (var s in _run.Samples)
        {
            var isTime = _run.CustomMetrics.TryGetValue(s.Metric, out var m) && m.IsTime;
            Add(s.Metric, s.Type, isTime, s.Value, s.Tags);
        }
        return series;
    }

    private static double Aggregate(string type, string aggregation, List<double> values, double seconds)
    {
        if (aggregation.StartsWith("p(", StringComparison.Ordinal))
        {
            return Percentile(values, double.Parse(aggregation[2..^1], CultureInfo.InvariantCulture));
        }
        return aggregation switch
        {
            "avg" => values.Count == 0 ? 0 : values.Average(),
            "min" => values.Count == 0 ? 0 : values.Min(),
            "max" => values.Count == 0 ? 0 : values.Max(),
            "med" => Percentile(values, 50),
            "count" => type == "counter" ? values.Sum() : values.Count,
            "rate" => type == "counter" ? values.Sum() / seconds : values.Count == 0 ? 0 : values.Count(v => v != 0) / (double)values.Count,
            "value" => values.Count == 0 ? 0 : values[^1],
            _ => throw new InvalidOperationException("unknown aggregation " + aggregation),
        };
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return 0;
        }
        var sorted = values.Order().ToList();
        var rank = p / 100 * (sorted.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (rank - lo));
    }

    private static bool Compare(double left, string op, double right) => op switch
    {
        "<" => left < right,
        "<=" => left <= right,
        ">" => left > right,
        ">=" => left >= right,
        "==" or "===" => left == right,
        "!=" => left != right,
        _ => throw new InvalidOperationException("unknown operator " + op),
    };

    /// <summary>Which aggregations k6 allows in a threshold on a metric of each type.</summary>
    public static bool AggregationFits(string type, string aggregation) => type switch
    {
        "trend" => aggregation is "avg" or "min" or "max" or "med" || aggregation.StartsWith("p(", StringComparison.Ordinal),
        "rate" => aggregation == "rate",
        "counter" => aggregation is "count" or "rate",
        "gauge" => aggregation == "value",
        _ => false,
    };

    /// <summary>Parses a threshold key (<c>metric{tag:value,…}</c>) and expression; throws on anything k6 would reject.</summary>
    public static (string Metric, Dictionary<string, string> Tags, string Aggregation, string Operator, double Value) ParseThreshold(
        string key, string expression, IReadOnlyDictionary<string, string> metricTypes)
    {
        var k = ThresholdKey.Match(key);
        if (!k.Success)
        {
            throw new FormatException($"threshold key '{key}' is not metric or metric{{tag:value,…}}");
        }
        var metric = k.Groups["metric"].Value;
        if (!metricTypes.TryGetValue(metric, out var type))
        {
            throw new FormatException($"threshold on '{key}': no metric {metric} (neither built-in nor declared by the script)");
        }
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (k.Groups["tags"].Success)
        {
            foreach (var pair in k.Groups["tags"].Value.Split(','))
            {
                var kv = pair.Split(':', 2);
                if (kv.Length != 2 || kv[0].Trim().Length == 0 || kv[1].Trim().Length == 0)
                {
                    throw new FormatException($"threshold key '{key}': '{pair}' is not tag:value");
                }
                tags[kv[0].Trim()] = kv[1].Trim();
            }
        }
        var e = ThresholdExpression.Match(expression);
        if (!e.Success)
        {
            throw new FormatException($"threshold '{key}': '{expression}' is not aggregation operator number");
        }
        var aggregation = e.Groups["agg"].Value;
        if (!AggregationFits(type, aggregation))
        {
            throw new FormatException($"threshold '{key}': {aggregation} does not apply to a {type}");
        }
        return (metric, tags, aggregation, e.Groups["op"].Value, double.Parse(e.Groups["value"].Value, CultureInfo.InvariantCulture));
    }

    private JsonObject BuildSummaryData()
    {
        var series = Series();
        var seconds = Math.Max(0.001, _run.Elapsed.TotalSeconds > 0 ? _run.Elapsed.TotalSeconds : _run.Requests.Sum(r => r.DurationMs) / 1000);
        var trendStats = _run.Options?["summaryTrendStats"] is JsonArray stats
            ? stats.Select(s => s!.GetValue<string>()).ToList()
            : ["avg", "min", "med", "max", "p(90)", "p(95)"];
        var types = new Dictionary<string, string>(BuiltinMetrics, StringComparer.Ordinal);
        foreach (var (name, m) in _run.CustomMetrics)
        {
            types[name] = m.Type;
        }

        JsonObject Values(string type, List<double> values)
        {
            var o = new JsonObject();
            switch (type)
            {
                case "trend":
                    foreach (var stat in trendStats)
                    {
                        o[stat] = Aggregate(type, stat, values, seconds);
                    }
                    break;
                case "counter":
                    o["count"] = values.Sum();
                    o["rate"] = values.Sum() / seconds;
                    break;
                case "rate":
                    o["rate"] = Aggregate(type, "rate", values, seconds);
                    o["passes"] = values.Count(v => v != 0);
                    o["fails"] = values.Count(v => v == 0);
                    break;
                default:
                    o["value"] = values.Count == 0 ? 0 : values[^1];
                    o["min"] = values.Count == 0 ? 0 : values.Min();
                    o["max"] = values.Count == 0 ? 0 : values.Max();
                    break;
            }
            return o;
        }

        var metrics = new JsonObject();
        foreach (var (name, s) in series)
        {
            metrics[name] = new JsonObject
            {
                ["type"] = s.Type,
                ["contains"] = s.IsTime ? "time" : "default",
                ["values"] = Values(s.Type, [.. s.Points.Select(p => p.Value)]),
            };
        }

        // Thresholds: evaluated on the recorded samples; sub-metrics ({tag:value}) appear as their own entries, as in k6.
        if (_run.Options?["thresholds"] is JsonObject thresholds)
        {
            foreach (var (key, list) in thresholds)
            {
                foreach (var item in list!.AsArray())
                {
                    var expression = item is JsonObject t ? t["threshold"]!.GetValue<string>() : item!.GetValue<string>();
                    var (metric, tags, aggregation, op, limit) = ParseThreshold(key, expression, types);
                    var points = series.TryGetValue(metric, out var s) ? s.Points : [];
                    var values = points.Where(p => tags.All(t => p.Tags.TryGetValue(t.Key, out var v) && v == t.Value))
                        .Select(p => p.Value).ToList();
                    var type = types[metric];
                    var value = Aggregate(type, aggregation, values, seconds);
                    var ok = Compare(value, op, limit);
                    _run.Thresholds.Add(new K6Threshold(key, expression, value, ok));
                    if (metrics[key] is not JsonObject entry)
                    {
                        entry = new JsonObject
                        {
                            ["type"] = type,
                            ["contains"] = series.TryGetValue(metric, out var ss) && ss.IsTime ? "time" : "default",
                            ["values"] = Values(type, values),
                        };
                        metrics[key] = entry;
                    }
                    if (entry["thresholds"] is not JsonObject results)
                    {
                        results = new JsonObject();
                        entry["thresholds"] = results;
                    }
                    results[expression] = new JsonObject { ["ok"] = ok };
                }
            }
        }

        var checks = new JsonArray();
        foreach (var group in _run.Checks.GroupBy(c => c.Name, StringComparer.Ordinal))
        {
            checks.Add(new JsonObject
            {
                ["name"] = group.Key,
                ["path"] = "::" + group.Key,
                ["id"] = checks.Count.ToString(CultureInfo.InvariantCulture),
                ["passes"] = group.Count(c => c.Passed),
                ["fails"] = group.Count(c => !c.Passed),
            });
        }
        return new JsonObject
        {
            ["root_group"] = new JsonObject
            {
                ["name"] = "", ["path"] = "", ["id"] = "d41d8cd98f00b204e9800998ecf8427e",
                ["groups"] = new JsonArray(), ["checks"] = checks,
            },
            ["options"] = new JsonObject
            {
                ["summaryTrendStats"] = new JsonArray([.. trendStats.Select(s => (JsonNode)s)]),
                ["summaryTimeUnit"] = "", ["noColor"] = true,
            },
            ["state"] = new JsonObject
            {
                ["isStdOutTTY"] = false, ["isStdErrTTY"] = false, ["testRunDurationMs"] = seconds * 1000,
            },
            ["metrics"] = metrics,
            ["setup_data"] = _run.SetupData?.DeepClone(),
        };
    }

    // ------------------------------------------------------------------------------------------------------------
    // The stub modules. They keep k6's signatures and refuse what k6 would refuse (or what the harness cannot emulate).

    private const string K6Module = """
        export function check(val, sets, tags) {
          if (sets === null || typeof sets !== 'object') { throw new Error('check() needs an object of named checks'); }
          let all = true;
          for (const name of Object.keys(sets)) {
            const f = sets[name];
            const passed = !!(typeof f === 'function' ? f(val) : f);
            __k6_check(name, passed, JSON.stringify(tags || {}));
            if (!passed) { all = false; }
          }
          return all;
        }
        export function sleep(seconds) { __k6_sleep(Number(seconds)); }
        export function group(name, fn) { if (typeof fn !== 'function') { throw new Error('group() needs a function'); } return fn(); }
        export function fail(message) { throw new Error(message === undefined ? 'fail' : String(message)); }
        export function randomSeed(seed) { throw new Error('randomSeed() is not emulated: the harness seeds Math.random'); }
        export default { check, sleep, group, fail, randomSeed };
        """;

    private const string HttpModule = """
        const DEFAULT_EXPECTED = { __k6expected: [[200, 399]] };
        let globalCallback = DEFAULT_EXPECTED;
        const KNOWN_PARAMS = ['headers', 'tags', 'responseCallback', 'timeout', 'redirects', 'cookies', 'jar', 'auth',
          'compression', 'throw', 'responseType'];
        function isExpected(x) { return x !== null && typeof x === 'object' && Array.isArray(x.__k6expected); }
        export function expectedStatuses(...args) {
          if (args.length === 0) { throw new Error('no arguments'); }
          return { __k6expected: args.map((a, i) => {
            if (Number.isInteger(a)) { return [a, a]; }
            if (a !== null && typeof a === 'object' && Number.isInteger(a.min) && Number.isInteger(a.max)) { return [a.min, a.max]; }
            throw new Error(`argument number ${i + 1} to expectedStatuses was neither an integer nor an object like {min:100, max:329}`);
          }) };
        }
        export function setResponseCallback(cb) {
          if (cb !== null && !isExpected(cb)) { throw new Error('unsupported responseCallback'); }
          globalCallback = cb;
        }
        export function file(data, filename, contentType) {
          if (typeof data !== 'string') { throw new Error('http.file(): the harness emulates string data only'); }
          return { __k6file: true, data: data, filename: filename || 'file', content_type: contentType || 'application/octet-stream' };
        }
        function encodeBody(body) {
          if (body === null || body === undefined) { return null; }
          if (typeof body === 'string') { return { kind: 'string', value: body }; }
          if (typeof body === 'object' && !Array.isArray(body)) {
            const keys = Object.keys(body);
            const isFile = (v) => v !== null && typeof v === 'object' && v.__k6file === true;
            if (keys.some((k) => isFile(body[k]))) {
              return { kind: 'multipart', parts: keys.map((k) => isFile(body[k])
                ? { name: k, filename: body[k].filename, content_type: body[k].content_type, value: body[k].data }
                : { name: k, value: String(body[k]) }) };
            }
            return { kind: 'form', fields: keys.map((k) => ({ name: k, value: String(body[k]) })) };
          }
          throw new Error('unsupported request body: ' + typeof body);
        }
        function response(r) {
          return {
            status: r.status, status_text: r.status_text, body: r.body, headers: r.headers, url: r.url, proto: r.proto,
            error: r.error, error_code: r.error_code, timings: r.timings, request: r.request, cookies: {},
            json(selector) {
              if (selector !== undefined) { throw new Error('res.json(selector) is not emulated'); }
              return JSON.parse(this.body);
            },
            html() { throw new Error('res.html() is not emulated'); },
          };
        }
        export function request(method, url, body, params) {
          params = params || {};
          for (const k of Object.keys(params)) {
            if (KNOWN_PARAMS.indexOf(k) < 0) { throw new Error('unknown request parameter ' + k); }
          }
          const cb = params.responseCallback === undefined ? globalCallback : params.responseCallback;
          if (cb !== null && !isExpected(cb)) { throw new Error('unsupported responseCallback'); }
          const headers = {};
          for (const k of Object.keys(params.headers || {})) { headers[k] = String(params.headers[k]); }
          const raw = __k6_request(JSON.stringify({
            method: String(method).toUpperCase(), url: String(url), headers: headers, tags: params.tags || {},
            body: encodeBody(body), expected: cb === null ? null : cb.__k6expected,
          }));
          return response(JSON.parse(raw));
        }
        export function get(url, params) { return request('GET', url, null, params); }
        export function head(url, params) { return request('HEAD', url, null, params); }
        export function post(url, body, params) { return request('POST', url, body, params); }
        export function put(url, body, params) { return request('PUT', url, body, params); }
        export function patch(url, body, params) { return request('PATCH', url, body, params); }
        export function del(url, body, params) { return request('DELETE', url, body, params); }
        export function options(url, body, params) { return request('OPTIONS', url, body, params); }
        export function batch(requests) {
          const one = (r) => typeof r === 'string' ? get(r)
            : Array.isArray(r) ? request(r[0], r[1], r[2], r[3])
            : request(r.method || 'GET', r.url, r.body, r.params);
          if (Array.isArray(requests)) { return requests.map(one); }
          const out = {};
          for (const k of Object.keys(requests)) { out[k] = one(requests[k]); }
          return out;
        }
        export default { request, get, head, post, put, patch, del, options, batch, file, expectedStatuses, setResponseCallback };
        """;

    private const string MetricsModule = """
        const NAME = /^[a-zA-Z_][a-zA-Z0-9_]{1,127}$/;
        function declare(type, name, isTime) {
          if (typeof name !== 'string' || !NAME.test(name)) { throw new Error('invalid metric name: ' + name); }
          __k6_metric(type, name, !!isTime);
        }
        function addTo(type, name, value, tags) {
          if (typeof value !== 'number' && typeof value !== 'boolean') { throw new Error(`${name}.add(${value}): not a number`); }
          __k6_sample(type, name, Number(value), JSON.stringify(tags || {}));
          return true;
        }
        export class Counter { constructor(name, isTime) { declare('counter', name, isTime); this.name = name; } add(v, tags) { return addTo('counter', this.name, v, tags); } }
        export class Trend { constructor(name, isTime) { declare('trend', name, isTime); this.name = name; } add(v, tags) { return addTo('trend', this.name, v, tags); } }
        export class Rate { constructor(name, isTime) { declare('rate', name, isTime); this.name = name; } add(v, tags) { return addTo('rate', this.name, v, tags); } }
        export class Gauge { constructor(name, isTime) { declare('gauge', name, isTime); this.name = name; } add(v, tags) { return addTo('gauge', this.name, v, tags); } }
        export default { Counter, Trend, Rate, Gauge };
        """;
}
