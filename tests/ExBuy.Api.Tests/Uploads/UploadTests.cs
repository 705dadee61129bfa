using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using static ExBuy.Api.Tests.Uploads.Multipart;

namespace ExBuy.Api.Tests.Uploads;

/// <summary>
/// Contract #14. Tests of one class run one after another and share the app's UPLOAD_DIR, so "nothing left behind" is
/// asserted as "the directory holds exactly what it held before the request".
/// </summary>
public abstract partial class UploadTests(ExBuyApp app) : EngineTests(app)
{
    private const string Url = "/api/uploads";
    private static readonly long Max = ExBuyApp.UploadMaxBytes;
    private HttpClient? _streamingClient;

    /// <summary>
    /// The default client follows redirects, and to replay a POST it first copies the whole body into memory (and so
    /// always sends Content-Length). Tests about streaming, chunked bodies or slow clients need the body sent as written.
    /// </summary>
    private HttpClient StreamingClient =>
        _streamingClient ??= App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

    public override ValueTask DisposeAsync()
    {
        _streamingClient?.Dispose();
        return base.DisposeAsync();
    }

    [Fact]
    public async Task UploadIsStoredUnderItsIdWithTheClientsSizeAndSha256()
    {
        var bytes = RandomBytes(100_000);
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "file", "photo.png");
        var before = UploadDirEntries();

        var response = await Client.PostAsync(Url, form, Ct);

        var body = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(["id", "filename", "size", "content_type", "sha256", "created_at"],
            body.EnumerateObject().Select(p => p.Name));
        var id = Guid.Parse(body.GetProperty("id").GetString()!);
        Assert.Equal(id.ToString(), body.GetProperty("id").GetString());
        Assert.Equal("photo.png", body.GetProperty("filename").GetString());
        Assert.Equal(JsonValueKind.Number, body.GetProperty("size").ValueKind);
        Assert.Equal(bytes.LongLength, body.GetProperty("size").GetInt64());
        Assert.Equal("image/png", body.GetProperty("content_type").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), body.GetProperty("sha256").GetString());
        Assert.Matches(TimestampFormat(), body.GetProperty("created_at").GetString());
        var createdAt = body.GetProperty("created_at").GetDateTime();
        Assert.InRange(createdAt, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1));

        Assert.Equal($"/api/uploads/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("application/json", response.ContentType()?.MediaType);
        Assert.Equal(0, response.QueryCount());

        // Stored under the server's name (the id) with its metadata sidecar, nothing else added: no temp file, no client name.
        AssertStoredOnly(before, id.ToString());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(App.UploadDir, id.ToString()), Ct));
    }

    [Fact]
    public async Task EachUploadGetsItsOwnId()
    {
        var first = await (await Client.PostAsync(Url, Content(Part.File("same"u8.ToArray())), Ct)).ExpectAsync(HttpStatusCode.Created);
        var second = await (await Client.PostAsync(Url, Content(Part.File("same"u8.ToArray())), Ct)).ExpectAsync(HttpStatusCode.Created);

        Assert.NotEqual(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Equal(first.GetProperty("sha256").GetString(), second.GetProperty("sha256").GetString());
    }

    [Theory]
    [InlineData("../../exbuy-escape.txt", "exbuy-escape.txt")]
    [InlineData(@"..\..\exbuy-escape.txt", "exbuy-escape.txt")]
    [InlineData("/tmp/exbuy-escape.txt", "exbuy-escape.txt")]
    [InlineData(@"C:\Windows\System32\exbuy-escape.exe", "exbuy-escape.exe")]
    [InlineData(@"\\server\share\exbuy-escape.txt", "exbuy-escape.txt")]
    [InlineData("a/b/../../../exbuy-escape", "exbuy-escape")]
    [InlineData("..", "upload")]
    [InlineData(".", "upload")]
    [InlineData("../..", "upload")]
    [InlineData("dir/", "upload")]
    [InlineData("", "upload")]
    [InlineData("   ", "upload")]
    [InlineData("  report 2026.pdf  ", "report 2026.pdf")]
    [InlineData("na\u0000me\u0001.t\u001fx\u007ft", "name.txt")]
    [InlineData("tab\there.txt", "tabhere.txt")]
    [InlineData("../\u0000/exbuy-escape.txt", "exbuy-escape.txt")]
    [InlineData("invoice\u202Efdp.exe", "invoicefdp.exe")]
    [InlineData("résumé 履歴書.txt", "résumé 履歴書.txt")]
    public async Task ClientFileNamesAreSanitisedMetadataAndNeverAPath(string clientName, string expected)
    {
        var bytes = RandomBytes(1000);
        var before = UploadDirEntries();

        var response = await Client.PostAsync(Url, Content(Part.File(bytes, clientName)), Ct);

        var body = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(expected, body.GetProperty("filename").GetString());
        var id = body.GetProperty("id").GetString()!;
        AssertStoredOnly(before, id);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(App.UploadDir, id), Ct));
        // Had the name been used as a path, the file would sit here instead.
        var escaped = Path.GetFullPath(Path.Combine(App.UploadDir, clientName.Replace('\\', '/').Replace("\0", "", StringComparison.Ordinal)));
        if (!escaped.StartsWith(App.UploadDir, StringComparison.Ordinal))
        {
            Assert.False(File.Exists(escaped), $"{escaped} was written");
        }
    }

    [Fact]
    public async Task LongFileNamesAreCutKeepingTheExtension()
    {
        var response = await Client.PostAsync(Url, Content(Part.File("x"u8.ToArray(), new string('a', 400) + ".tar.gz")), Ct);

        var name = (await response.ExpectAsync(HttpStatusCode.Created)).GetProperty("filename").GetString()!;
        Assert.Equal(255, name.Length);
        Assert.EndsWith("a.gz", name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FileNameStarIsPreferredAndDecoded()
    {
        var part = new Part("Content-Disposition: form-data; name=\"file\"; filename=\"plain.txt\"; filename*=UTF-8''%EC%82%AC%EC%A7%84.txt",
            "hi"u8.ToArray());

        var response = await Client.PostAsync(Url, Content(part), Ct);

        Assert.Equal("사진.txt", (await response.ExpectAsync(HttpStatusCode.Created)).GetProperty("filename").GetString());
    }

    [Theory]
    [InlineData(null, "application/octet-stream")]
    [InlineData("text/plain; charset=utf-8", "text/plain")]
    [InlineData("Image/JPEG", "image/jpeg")]
    [InlineData("not a media type", "application/octet-stream")]
    [InlineData("*/*", "application/octet-stream")]
    public async Task ContentTypeComesFromThePartWithOctetStreamAsDefault(string? partType, string expected)
    {
        var response = await Client.PostAsync(Url, Content(Part.File("x"u8.ToArray(), "a.bin", partType)), Ct);

        Assert.Equal(expected, (await response.ExpectAsync(HttpStatusCode.Created)).GetProperty("content_type").GetString());
    }

    [Fact]
    public async Task FileOfExactlyMaxBytesIsAccepted()
    {
        var bytes = RandomBytes(Max);

        var response = await Client.PostAsync(Url, Content(Part.File(bytes)), Ct);

        var body = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(Max, body.GetProperty("size").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), body.GetProperty("sha256").GetString());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(App.UploadDir, body.GetProperty("id").GetString()!), Ct));
    }

    [Fact]
    public async Task FileOneByteOverMaxIs413AndLeavesNothingBehind()
    {
        var before = UploadDirEntries();

        var response = await Client.PostAsync(Url, Content(Part.File(RandomBytes(Max + 1))), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, response.QueryCount());
        AssertNothingLeftBehind(before);
    }

    [Fact]
    public async Task OversizeFileIsRefusedWithoutContentLengthToo()
    {
        // Chunked: no Content-Length to judge by, so the limit is enforced while streaming.
        var before = UploadDirEntries();
        var response = await StreamingClient.PostAsync(Url, new UnknownLengthContent(Body(Part.File(RandomBytes(3 * Max)))), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        AssertNothingLeftBehind(before);
    }

    [Fact]
    public async Task DeclaredOversizeContentLengthIs413BeforeTheBodyIsRead()
    {
        var before = UploadDirEntries();
        // Declares far more than the limit, sends only the start of the file part, then waits: only a server that answers
        // from Content-Length alone can reply before the rest is released.
        var prefix = Body(Boundary, closed: false, Part.File(RandomBytes(1000)))[..^2];
        var content = new StallingContent(prefix, declaredLength: 64L * 1024 * 1024);

        var response = await StreamingClient.PostAsync(Url, content, Ct).WaitAsync(TimeSpan.FromSeconds(15), Ct);

        Assert.False(content.Released, "the 413 waited for the body");
        content.Release();
        await response.ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, response.QueryCount());
        AssertNothingLeftBehind(before);
    }

    [Fact]
    public async Task ContentLengthJustUnderTheBodyLimitIsRead()
    {
        // Max + framing fits the body allowance, so the file itself decides (here: one byte too many).
        var raw = Body(Part.File(RandomBytes(Max + 1)));
        Assert.InRange(raw.LongLength, Max + 1, Max + 64 * 1024);

        var response = await StreamingClient.PostAsync(Url, Content(raw), Ct);

        var problem = await response.ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains(Max.ToString(System.Globalization.CultureInfo.InvariantCulture), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManyExtraPartsCannotGrowTheBodyPastTheLimit()
    {
        var before = UploadDirEntries();
        var parts = Enumerable.Range(0, 40).Select(i => Part.Field($"extra{i}", new string('x', 16 * 1024)))
            .Append(Part.File("late"u8.ToArray()))
            .ToArray();

        var response = await StreamingClient.PostAsync(Url, new UnknownLengthContent(Body(parts)), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        AssertNothingLeftBehind(before);
    }

    [Theory]
    [InlineData("application/json", """{"file": "aGVsbG8="}""")]
    [InlineData("text/plain", "hello")]
    [InlineData("application/x-www-form-urlencoded", "file=hello")]
    [InlineData("multipart/mixed; boundary=" + Boundary, "")]
    [InlineData("application/octet-stream", "hello")]
    [InlineData(null, "hello")]
    public async Task NonMultipartBodiesAre415(string? contentType, string payload)
    {
        var raw = payload.Length > 0 ? Encoding.UTF8.GetBytes(payload) : Body(Part.File("x"u8.ToArray()));

        var response = await Client.PostAsync(Url, Content(raw, contentType), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(0, response.QueryCount());
    }

    [Theory]
    [InlineData("multipart/form-data")]
    [InlineData("multipart/form-data; boundary=")]
    [InlineData("multipart/form-data; boundary=\"\"")]
    [InlineData("multipart/form-data; charset=utf-8")]
    public async Task MultipartWithoutABoundaryIs415(string contentType)
    {
        var response = await Client.PostAsync(Url, Content(Body(Part.File("x"u8.ToArray())), contentType), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task BoundaryLongerThan70CharactersIs415()
    {
        var boundary = new string('b', 71);
        var raw = Body(boundary, closed: true, Part.File("x"u8.ToArray()));

        var response = await Client.PostAsync(Url, Content(raw, "multipart/form-data; boundary=" + boundary), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task QuotedBoundaryOf70CharactersIsAccepted()
    {
        var boundary = new string('q', 60) + "'()+_,-./";
        var raw = Body(boundary, closed: true, Part.File("quoted"u8.ToArray()));

        var response = await Client.PostAsync(Url, Content(raw, $"multipart/form-data; boundary=\"{boundary}\""), Ct);

        Assert.Equal(6, (await response.ExpectAsync(HttpStatusCode.Created)).GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task MissingFileFieldIs400NamingFile()
    {
        var before = UploadDirEntries();

        var response = await Client.PostAsync(Url, Content(Part.Field("description", "no file here")), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
        Assert.Equal(0, response.QueryCount());
        AssertNothingLeftBehind(before);
    }

    [Fact]
    public async Task FileFieldNameIsCaseSensitive()
    {
        var part = new Part("Content-Disposition: form-data; name=\"File\"; filename=\"a.txt\"", "x"u8.ToArray());

        var response = await Client.PostAsync(Url, Content(part), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
    }

    [Fact]
    public async Task MultipartWithNoPartsIs400NamingFile()
    {
        var response = await Client.PostAsync(Url, Content(Body()), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
    }

    [Fact]
    public async Task EmptyFileIs400NamingFileAndLeavesNothingBehind()
    {
        var before = UploadDirEntries();

        var response = await Client.PostAsync(Url, Content(Part.File([])), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
        AssertNothingLeftBehind(before);
    }

    [Fact]
    public async Task EmptyRequestBodyIs400NamingFile()
    {
        var response = await Client.PostAsync(Url, Content([]), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
    }

    [Fact]
    public async Task OnlyThePartNamedFileIsStored()
    {
        var bytes = RandomBytes(5000);
        var before = UploadDirEntries();

        var response = await Client.PostAsync(Url, Content(
            Part.Field("description", "holiday photos"),
            Part.File(bytes, "pic.jpg", "image/jpeg"),
            Part.Field("tags", "sea,sun")), Ct);

        var body = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(bytes.LongLength, body.GetProperty("size").GetInt64());
        Assert.Equal("pic.jpg", body.GetProperty("filename").GetString());
        var id = body.GetProperty("id").GetString()!;
        AssertStoredOnly(before, id);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(App.UploadDir, id), Ct));
    }

    [Fact]
    public async Task FirstFilePartWinsWhenTheFieldRepeats()
    {
        var first = RandomBytes(300);

        var response = await Client.PostAsync(Url, Content(Part.File(first, "one.bin"), Part.File(RandomBytes(700), "two.bin")), Ct);

        var body = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("one.bin", body.GetProperty("filename").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(first)), body.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task FilePartWithoutFileNameIsStoredAsUpload()
    {
        var response = await Client.PostAsync(Url, Content(Part.Field("file", "plain value")), Ct);

        var body = await response.ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("upload", body.GetProperty("filename").GetString());
        Assert.Equal(11, body.GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task TruncatedMultipartIs400AndNothingIsStored()
    {
        // The file part never reaches its closing boundary: a half-sent upload must not be stored as if complete.
        var before = UploadDirEntries();
        var raw = Body(Boundary, closed: false, Part.File(RandomBytes(100_000)))[..^2];

        var response = await Client.PostAsync(Url, Content(raw), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
        AssertNothingLeftBehind(before);
    }

    [Fact]
    public async Task BodyWithoutTheDeclaredBoundaryIs400()
    {
        var response = await Client.PostAsync(Url, Content("just some bytes, no boundary at all"u8.ToArray()), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
    }

    [Fact]
    public async Task OversizedPartHeadersAre400()
    {
        var part = new Part("Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nX-Padding: " + new string('p', 20_000),
            "x"u8.ToArray());

        var response = await Client.PostAsync(Url, Content(part), Ct);

        await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "file");
    }

    [Fact]
    public async Task ClientAbortMidUploadRemovesThePartialFile()
    {
        var before = UploadDirEntries();
        // Enough of the file part for the server to have written some of it to disk, then silence.
        var prefix = Body(Boundary, closed: false, Part.File(RandomBytes(200_000)))[..^2];
        var content = new StallingContent(prefix);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var send = StreamingClient.PostAsync(Url, content, abort.Token);
        // Streaming, not buffering: the partial file appears while the request is still open.
        await WaitUntilAsync(() => UploadDirEntries().Except(before).Any(e => e.EndsWith(".partial", StringComparison.Ordinal)),
            "a .partial file while the body is still arriving");
        abort.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        content.Release();

        await WaitUntilAsync(() => UploadDirEntries().SetEquals(before), "UPLOAD_DIR back to what it held");
    }

    [Fact]
    public async Task WrongMethodIs405Problem()
    {
        var response = await Client.GetAsync(Url, Ct);

        await response.ExpectProblemAsync(HttpStatusCode.MethodNotAllowed);
        Assert.Contains("POST", response.Content.Headers.Allow);
    }

    [Fact]
    public void UploadEndpointHasNoAntiforgeryRequirement()
    {
        var endpoint = App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Single(e => e.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName == "CreateUpload");

        Assert.False(endpoint.Metadata.GetMetadata<IAntiforgeryMetadata>()?.RequiresValidation ?? false);
    }

    /// <summary>The upload's file and its metadata sidecar were added, nothing else.</summary>
    private void AssertStoredOnly(HashSet<string> before, string id)
    {
        var added = UploadDirEntries().Except(before).Order(StringComparer.Ordinal);
        Assert.Equal([id, id + ".json"], added);
    }

    private void AssertNothingLeftBehind(HashSet<string> before)
    {
        var after = UploadDirEntries();
        Assert.True(after.SetEquals(before),
            $"UPLOAD_DIR changed: added [{string.Join(", ", after.Except(before))}], removed [{string.Join(", ", before.Except(after))}]");
    }

    private HashSet<string> UploadDirEntries() =>
        Directory.Exists(App.UploadDir)
            ? Directory.EnumerateFileSystemEntries(App.UploadDir).Select(e => Path.GetFileName(e)).ToHashSet(StringComparer.Ordinal)
            : [];

    private async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20, Ct);
        }
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")]
    private static partial Regex TimestampFormat();
}

public sealed class UploadSqliteTests(SqliteApp app) : UploadTests(app), IClassFixture<SqliteApp>;

public sealed class UploadPostgresTests(PostgresApp app) : UploadTests(app), IClassFixture<PostgresApp>;
