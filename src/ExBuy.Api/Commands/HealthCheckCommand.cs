using System.Diagnostics;
using System.Net;

namespace ExBuy.Api.Commands;

/// <summary>
/// <c>healthcheck [--url URL]</c>: GET the readiness endpoint once and exit 0 on 200, 1 otherwise with one line saying
/// what answered — what a container's HEALTHCHECK runs (the ASP.NET runtime image has no curl). The default URL is the
/// first of <c>--urls</c>/<c>ASPNETCORE_URLS</c> (a wildcard host becomes 127.0.0.1), else ExBuy's default, plus
/// <c>/api/health/ready</c>. Bounded: 5 s in all.
/// </summary>
public static class HealthCheckCommand
{
    public const string ReadyPath = "/api/health/ready";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var url = Target(args, Environment.GetEnvironmentVariable("ASPNETCORE_URLS"));
        using var client = new HttpClient { Timeout = Timeout };
        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await client.GetAsync(url, ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Console.WriteLine($"exbuy healthcheck: {url} answered 200 in {watch.Elapsed.TotalMilliseconds:F0} ms");
                return 0;
            }
            Console.Error.WriteLine($"exbuy healthcheck: {url} answered {(int)response.StatusCode}: {await Body(response, ct)}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            Console.Error.WriteLine($"exbuy healthcheck: {url} did not answer: {(ex is TaskCanceledException ? $"no answer in {Timeout.TotalSeconds:F0} s" : ex.Message)}");
        }
        return 1;
    }

    /// <summary>The URL to check: --url, else the first listen URL (wildcards → 127.0.0.1), else ExBuy's default.</summary>
    internal static Uri Target(IReadOnlyList<string> args, string? listenUrls)
    {
        string? given = null;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--url" when i + 1 < args.Count:
                    given = args[++i];
                    break;
                case "--urls" when i + 1 < args.Count:
                    listenUrls = args[++i];
                    break;
                default:
                    throw new CommandException($"healthcheck: unknown argument '{args[i]}' (use --url URL).");
            }
        }
        if (given is not null)
        {
            return Uri.TryCreate(given, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
                ? u
                : throw new CommandException($"--url '{given}' is not an absolute http:// or https:// URL (e.g. {Hosting.DefaultUrl}{ReadyPath}).");
        }
        var first = (listenUrls ?? Hosting.DefaultUrl).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault() ?? Hosting.DefaultUrl;
        var local = first.Replace("://+", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal);
        return Uri.TryCreate(local.TrimEnd('/') + ReadyPath, UriKind.Absolute, out var target)
            ? target
            : throw new CommandException($"the listen URL '{first}' is not a URL: pass --url.");
    }

    private static async Task<string> Body(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        return body.Length > 300 ? body[..300] + "…" : body;
    }
}
