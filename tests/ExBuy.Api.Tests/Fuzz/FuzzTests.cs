using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CsCheck;
using ExBuy.Api.Data.Entities;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// Base of the fuzz properties. Every generated request is sent in-process and its answer held to the contract's promise:
/// no 5xx (the database is up, so not even a 503) and no connection error; an <c>X-Query-Count</c> header on every
/// answer (all fuzzed URLs are under /api); every 4xx is problem+json whose
/// <c>status</c> is the HTTP status; every 400 has a non-empty <c>errors</c> object whose keys name the endpoint's
/// fields (<see cref="EndpointShape.Unexplained"/>), each with a non-empty list of messages; and a refused write (any 4xx)
/// leaves the database and the upload directory exactly as they were (<see cref="StoreState"/>).
/// Runs a fixed number of iterations on one thread (CI-deterministic); <c>FUZZ_ITER</c> overrides the count of every
/// property, and a failure prints the CsCheck seed to replay it (<c>CsCheck_Seed</c>).
/// </summary>
public abstract class FuzzTests(ExBuyApp app) : EngineTests(app)
{
    /// <summary>The iteration count of a property: <paramref name="iterations"/>, unless FUZZ_ITER says otherwise.</summary>
    protected static long Iterations(long iterations) =>
        long.TryParse(Environment.GetEnvironmentVariable("FUZZ_ITER"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : iterations;

    /// <summary>
    /// Runs the property sequentially (requests observe each other's database state), prints the request on failure, and
    /// writes to the test output how often each outcome (<see cref="FuzzResponse.Outcome"/>) came up, which shows how deep
    /// the generated requests reach into validation.
    /// </summary>
    protected static Task CheckAsync(Gen<FuzzRequest> requests, Func<FuzzRequest, Task<FuzzResponse>> property, long iterations) =>
        requests.SampleAsync(async request => (await property(request)).Outcome,
            writeLine: line => TestContext.Current.TestOutputHelper?.WriteLine(line),
            iter: Iterations(iterations), threads: 1, print: r => r.ToString());

    /// <summary>Sends the request, asserts the contract on the answer and (for a refused write) on the stored state.</summary>
    protected async Task<FuzzResponse> SendAsync(FuzzRequest request, EndpointShape shape)
    {
        var before = request.IsWrite ? await StoreState.CaptureAsync(App) : null;
        using var message = request.ToMessage();
        HttpResponseMessage response;
        try
        {
            response = await Client.SendAsync(message, Ct);
        }
        catch (HttpRequestException ex)
        {
            throw new Xunit.Sdk.XunitException($"{shape.Name}: connection error: {ex.Message}");
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(Ct);
            var body = AssertContract(response, text, request, shape);
            if (before is not null && (int)response.StatusCode is >= 400 and < 500)
            {
                var after = await StoreState.CaptureAsync(App);
                Assert.True(before == after,
                    $"{shape.Name}: refused with {(int)response.StatusCode} but the stored state changed:\n before {before}\n after  {after}\n{text}");
            }
            return new FuzzResponse(response.StatusCode, body);
        }
    }

    private static JsonElement AssertContract(HttpResponseMessage response, string text, FuzzRequest request, EndpointShape shape)
    {
        var status = (int)response.StatusCode;
        var context = $"{shape.Name}: {status} {response.Content.Headers.ContentType}: {text}";
        Assert.True(status < 500, $"5xx: {context}");
        Assert.True(response.Headers.TryGetValues("X-Query-Count", out var counts) && int.TryParse(counts.Single(), out var count) && count >= 0,
            $"X-Query-Count missing or not a count: {context}");
        // Routing checks the content type before the id's constraint, so a body of the wrong type may be a 415 instead.
        Assert.True(!request.PathIdIsNotAnId || status == 404 || (status == 415 && !IsJson(request.ContentType)),
            $"a path id that is no positive integer must be a 404: {context}");
        if (status < 400)
        {
            return text.Length > 0 && response.Content.Headers.ContentType?.MediaType == "application/json" ? Parse(text, context) : default;
        }
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"4xx not problem+json: {context}");
        var problem = Parse(text, context);
        Assert.True(problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("status", out var statusField)
            && statusField.ValueKind == JsonValueKind.Number && statusField.GetInt32() == status, $"problem status differs: {context}");
        if (status == 400)
        {
            Assert.True(problem.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object
                && errors.EnumerateObject().Any(), $"400 without errors: {context}");
            foreach (var error in errors.EnumerateObject())
            {
                Assert.True(error.Value.ValueKind == JsonValueKind.Array && error.Value.GetArrayLength() > 0
                    && error.Value.EnumerateArray().All(m => m.ValueKind == JsonValueKind.String && m.GetString()!.Length > 0),
                    $"errors[\"{error.Name}\"] is not a list of messages: {context}");
            }
            var unexplained = shape.Unexplained(errors.EnumerateObject().Select(e => e.Name), request.Document);
            Assert.True(unexplained is null, $"errors key \"{unexplained}\" names no field of the request: {context}");
        }
        return problem;
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null && contentType.Split(';')[0].Trim().Equals("application/json", StringComparison.OrdinalIgnoreCase);

    private static JsonElement Parse(string text, string context)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new Xunit.Sdk.XunitException($"body is not JSON: {context}");
        }
    }
}

/// <summary>An answer: its status and its parsed JSON body (default when it had none).</summary>
public sealed record FuzzResponse(HttpStatusCode Status, JsonElement Body)
{
    /// <summary>The status, and for a 400 the first field it names with indices as <c>[]</c>: "400 items[].quantity".</summary>
    public string Outcome => Status == HttpStatusCode.BadRequest && Body.TryGetProperty("errors", out var errors)
        ? $"400 {Regex.Replace(errors.EnumerateObject().First().Name, @"\[\d+\]", "[]")}"
        : ((int)Status).ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// What a refused write must leave untouched: every row of products, orders, order items and reviews (as counts,
/// stock and quantity totals, and a checksum of their columns) and the number of stored uploads.
/// <see cref="Stock"/> + <see cref="HeldQuantity"/> is also what a successful write conserves (reservations aside).
/// </summary>
public sealed record StoreState(int Products, long Stock, int Orders, int Items, long HeldQuantity, int Reviews, int Uploads, string Checksum)
{
    public static async Task<StoreState> CaptureAsync(ExBuyApp app) => await app.WithDbAsync(async db =>
    {
        var products = await db.Products.AsNoTracking().OrderBy(p => p.Id)
            .Select(p => new { p.Id, p.Name, p.Price, p.Stock, p.Category, p.Version, p.UpdatedAt, p.DeletedAt }).ToListAsync();
        var orders = await db.Orders.AsNoTracking().OrderBy(o => o.Id)
            .Select(o => new { o.Id, o.UserId, o.Status, o.TotalPrice, o.UpdatedAt }).ToListAsync();
        var items = await db.OrderItems.AsNoTracking().OrderBy(i => i.Id)
            .Select(i => new { i.Id, i.OrderId, i.ProductId, i.Quantity, i.UnitPrice }).ToListAsync();
        var reviews = await db.Reviews.AsNoTracking().OrderBy(r => r.Id)
            .Select(r => new { r.Id, r.ProductId, r.UserId, r.Rating, r.Body }).ToListAsync();
        var cancelled = orders.Where(o => o.Status == OrderStatus.Cancelled).Select(o => o.Id).ToHashSet();
        var rows = string.Join('\n', products.Select(p => p.ToString()).Concat(orders.Select(o => o.ToString()))
            .Concat(items.Select(i => i.ToString())).Concat(reviews.Select(r => r.ToString())));
        var uploads = Directory.Exists(app.UploadDir) ? Directory.EnumerateFiles(app.UploadDir, "*", SearchOption.AllDirectories).Count() : 0;
        return new StoreState(products.Count, products.Sum(p => (long)p.Stock), orders.Count, items.Count,
            items.Where(i => !cancelled.Contains(i.OrderId)).Sum(i => (long)i.Quantity), reviews.Count, uploads,
            Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(rows)))[..16]);
    });
}
