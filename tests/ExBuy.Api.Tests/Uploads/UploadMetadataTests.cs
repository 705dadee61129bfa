using System.Globalization;
using System.Net;
using ExBuy.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using static ExBuy.Api.Tests.Uploads.Multipart;

namespace ExBuy.Api.Tests.Uploads;

/// <summary>
/// Contract v1.1 ("Beyond the original"): <c>GET /api/uploads/{id}</c> answers the Upload exactly as POST did, where its
/// Location points, across restarts; any other id is a 404. Failed uploads leaving no metadata is asserted by
/// <see cref="UploadTests"/>, whose "nothing left behind" compares every entry of UPLOAD_DIR, sidecars included.
/// </summary>
public abstract class UploadMetadataTests(ExBuyApp app) : EngineTests(app)
{
    private const string Url = "/api/uploads";

    [Theory]
    [InlineData("photo.png", "image/png")]
    [InlineData("résumé 履歴書.txt", "text/plain")]
    [InlineData("<b>&'x'.html", null)]
    public async Task GetAnswersExactlyWhatPostAnsweredAtItsLocation(string fileName, string? contentType)
    {
        var post = await Client.PostAsync(Url, Content(Part.File(RandomBytes(2000), fileName, contentType)), Ct);
        var posted = await post.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);

        var get = await Client.GetAsync(post.Headers.Location, Ct);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(posted, await get.Content.ReadAsStringAsync(Ct));
        Assert.Equal(post.ContentType(), get.ContentType());
        Assert.Equal(0, get.QueryCount());
    }

    [Fact]
    public async Task UppercaseIdNamesTheSameUpload()
    {
        // UUIDs are case-insensitive on input (RFC 9562 §4); the stored name is always the lower-case form.
        var (id, posted) = await UploadAsync();

        var get = await Client.GetAsync($"{Url}/{id.ToUpperInvariant()}", Ct);

        Assert.Equal(posted, await get.Content.ReadAsStringAsync(Ct));
    }

    [Theory]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    [InlineData("ffffffff-ffff-ffff-ffff-ffffffffffff")]
    [InlineData(null)]
    public async Task UuidThatNamesNoUploadIs404(string? id)
    {
        var response = await Client.GetAsync($"{Url}/{id ?? Guid.NewGuid().ToString()}", Ct);

        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(0, response.QueryCount());
    }

    /// <summary>{0}: a stored upload's id; {1}: the same without hyphens; {2}: the same without its first two digits.</summary>
    [Theory]
    [InlineData("abc")]
    [InlineData("..%2F..%2F..%2F..%2Fetc%2Fpasswd")]
    [InlineData("%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd")]
    [InlineData("..%252F..%252Fetc%252Fpasswd")]
    [InlineData("..%5C..%5Cwindows%5Cwin.ini")]
    [InlineData("%2Fetc%2Fpasswd")]
    [InlineData("..")]
    [InlineData("{0}.json")]
    [InlineData("{0}.partial")]
    [InlineData("{0}.json.partial")]
    [InlineData("{0}x")]
    [InlineData("x{0}")]
    [InlineData("{0}0")]
    [InlineData("{0}%20")]
    [InlineData("%20{0}")]
    [InlineData("{0}%2F..")]
    [InlineData("..%2F{0}")]
    [InlineData("%7B{0}%7D")]
    [InlineData("({0})")]
    [InlineData("{1}")]
    [InlineData("0x{2}")]
    [InlineData("+0{2}")]
    public async Task MalformedIdIs404AndNeverAPath(string template)
    {
        var (id, _) = await UploadAsync();
        var path = string.Format(CultureInfo.InvariantCulture, template, id, id.Replace("-", "", StringComparison.Ordinal), id[2..]);

        var response = await Client.GetAsync($"{Url}/{path}", Ct);

        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(0, response.QueryCount());
    }

    [Fact]
    public async Task MetadataPlantedOutsideUploadDirIsNotReachable()
    {
        // Valid metadata one level up: only an id used as a path (plus ".json") could find it.
        var (id, _) = await UploadAsync();
        var name = "exbuy-escape-" + Guid.NewGuid().ToString("N")[..12];
        var planted = Path.Combine(Path.GetDirectoryName(App.UploadDir)!, name + ".json");
        File.Copy(Path.Combine(App.UploadDir, id + ".json"), planted);
        try
        {
            var response = await Client.GetAsync($"{Url}/..%2F{name}", Ct);

            await response.ExpectProblemAsync(HttpStatusCode.NotFound);
        }
        finally
        {
            File.Delete(planted);
        }
    }

    [Fact]
    public async Task MetadataSurvivesARestart()
    {
        // A server over the same settings (database, UPLOAD_DIR) stopped after the POST, then another started: the
        // shared directory is all they have in common besides the database, which uploads do not use.
        string location;
        string posted;
        await using (var first = NewInstance())
        {
            using var client = first.CreateClient();
            var post = await client.PostAsync(Url, Content(Part.File(RandomBytes(3000), "kept.bin")), Ct);
            posted = await post.Content.ReadAsStringAsync(Ct);
            Assert.Equal(HttpStatusCode.Created, post.StatusCode);
            location = post.Headers.Location!.OriginalString;
        }

        await using var second = NewInstance();
        using var secondClient = second.CreateClient();
        var get = await secondClient.GetAsync(location, Ct);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(posted, await get.Content.ReadAsStringAsync(Ct));
        // And any other instance over the directory, as replicas behind a load balancer would be.
        Assert.Equal(posted, await Client.GetStringAsync(location, Ct));
    }

    [Fact]
    public async Task ReadsAreConsistentUnderConcurrentUploads()
    {
        var (id, posted) = await UploadAsync();

        var uploads = Enumerable.Range(0, 8).Select(_ => UploadAsync()).ToArray();
        var reads = Enumerable.Range(0, 16).Select(_ => Client.GetStringAsync($"{Url}/{id}", Ct)).ToArray();

        Assert.All(await Task.WhenAll(reads), body => Assert.Equal(posted, body));
        var created = await Task.WhenAll(uploads);
        Assert.Equal(created.Length, created.Select(u => u.Id).Distinct().Count());
        foreach (var (newId, body) in created)
        {
            Assert.Equal(body, await Client.GetStringAsync($"{Url}/{newId}", Ct));
        }
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("empty")]
    [InlineData("truncated")]
    [InlineData("another upload's")]
    public async Task FileWithoutUsableMetadataIs404NotA5xx(string sidecar)
    {
        // What a crash (or an OS crash: nothing is fsynced) between storing the file and its sidecar could leave.
        var (id, posted) = await UploadAsync();
        var (_, other) = await UploadAsync();
        var path = Path.Combine(App.UploadDir, id + ".json");
        switch (sidecar)
        {
            case "missing":
                File.Delete(path);
                break;
            case "empty":
                await File.WriteAllTextAsync(path, "", Ct);
                break;
            case "truncated":
                await File.WriteAllTextAsync(path, posted[..(posted.Length / 2)], Ct);
                break;
            default:
                await File.WriteAllTextAsync(path, other, Ct);
                break;
        }

        var response = await Client.GetAsync($"{Url}/{id}", Ct);

        await response.ExpectProblemAsync(HttpStatusCode.NotFound);
    }

    private async Task<(string Id, string Body)> UploadAsync()
    {
        var response = await Client.PostAsync(Url, Content(Part.File(RandomBytes(500))), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (response.Headers.Location!.OriginalString[(Url.Length + 1)..], body);
    }

    /// <summary>Another server over this app's settings (same database, same UPLOAD_DIR): a restart, or a second replica.</summary>
    private WebApplicationFactory<Program> NewInstance() => App.WithWebHostBuilder(_ => { });
}

public sealed class UploadMetadataSqliteTests(SqliteApp app) : UploadMetadataTests(app), IClassFixture<SqliteApp>;

public sealed class UploadMetadataPostgresTests(PostgresApp app) : UploadMetadataTests(app), IClassFixture<PostgresApp>;
