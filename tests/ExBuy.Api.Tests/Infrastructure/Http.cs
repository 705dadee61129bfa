using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ExBuy.Api.Tests.Infrastructure;

/// <summary>HTTP helpers: raw JSON bodies in, parsed JSON and contract assertions out.</summary>
public static class Http
{
    public static StringContent Json(string rawJson) => new(rawJson, Encoding.UTF8, "application/json");

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string url, string rawJson) =>
        client.PostAsync(url, Json(rawJson));

    public static Task<HttpResponseMessage> PatchJsonAsync(this HttpClient client, string url, string rawJson) =>
        client.PatchAsync(url, Json(rawJson));

    /// <summary>Asserts the status and returns the parsed body (with the body in the failure message).</summary>
    public static async Task<JsonElement> ExpectAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status,
            $"expected {(int)status} but got {(int)response.StatusCode} for {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {text}");
        if (text.Length == 0)
        {
            return default;
        }
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem with this status; for 400 also that <c>errors</c> names every given field.</summary>
    public static async Task<JsonElement> ExpectProblemAsync(this HttpResponseMessage response, HttpStatusCode status, params string[] fields)
    {
        var body = await response.ExpectAsync(status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("title").GetString()));
        foreach (var field in fields)
        {
            Assert.True(body.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out var messages)
                && messages.GetArrayLength() > 0,
                $"expected errors[\"{field}\"] in {body}");
        }
        return body;
    }

    public static int QueryCount(this HttpResponseMessage response)
    {
        Assert.True(response.Headers.TryGetValues("X-Query-Count", out var values), "X-Query-Count header missing");
        return int.Parse(values.Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static MediaTypeHeaderValue? ContentType(this HttpResponseMessage response) => response.Content.Headers.ContentType;

    /// <summary>The ids of a page's <c>results</c>, in order.</summary>
    public static long[] Ids(this JsonElement page) =>
        [.. page.GetProperty("results").EnumerateArray().Select(e => e.GetProperty("id").GetInt64())];

    /// <summary>GETs the same URL on both optimize paths and asserts identical bodies (links aside).</summary>
    public static async Task<(JsonElement Naive, JsonElement Optimized, int NaiveQueries, int OptimizedQueries)> BothPathsAsync(
        this HttpClient client, string url, CancellationToken ct)
    {
        var sep = url.Contains('?') ? '&' : '?';
        using var naiveResponse = await client.GetAsync($"{url}{sep}optimize=false", ct);
        var naive = await naiveResponse.ExpectAsync(HttpStatusCode.OK);
        using var optimizedResponse = await client.GetAsync($"{url}{sep}optimize=true", ct);
        var optimized = await optimizedResponse.ExpectAsync(HttpStatusCode.OK);
        if (naive.TryGetProperty("results", out var naiveResults))
        {
            Assert.Equal(naiveResults.GetRawText(), optimized.GetProperty("results").GetRawText());
            Assert.Equal(naive.GetProperty("count").GetInt64(), optimized.GetProperty("count").GetInt64());
            Assert.Equal(Unoptimized(naive.GetProperty("next")), Unoptimized(optimized.GetProperty("next")));
            Assert.Equal(Unoptimized(naive.GetProperty("previous")), Unoptimized(optimized.GetProperty("previous")));
        }
        else
        {
            Assert.Equal(naive.GetRawText(), optimized.GetRawText());
        }
        return (naive, optimized, naiveResponse.QueryCount(), optimizedResponse.QueryCount());
    }

    private static string? Unoptimized(JsonElement link) =>
        link.ValueKind == JsonValueKind.Null ? null : link.GetString()!.Replace("optimize=true", "optimize=false", StringComparison.Ordinal);
}
