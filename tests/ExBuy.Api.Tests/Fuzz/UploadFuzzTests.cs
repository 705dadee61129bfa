using System.Net;
using CsCheck;
using ExBuy.Api.Tests.Infrastructure;
using ExBuy.Api.Tests.Uploads;

namespace ExBuy.Api.Tests.Fuzz;

/// <summary>
/// POST /api/uploads (contract #14) under generated multipart bodies: a valid upload with its parts, names, file names,
/// boundary, framing or content type damaged. The contract checks of <see cref="FuzzTests"/> hold, a refused upload
/// stores no file, and an accepted one answers with a size and a file name that is no path (sanitised metadata).
/// </summary>
public abstract class UploadFuzzTests(ExBuyApp app) : FuzzTests(app)
{
    private const long DefaultIterations = 200;

    private static readonly EndpointShape UploadShape = new("POST /api/uploads", [], ["file"]);

    private static readonly Gen<string> FieldName = Gen.Frequency<string>(
        (6, Gen.Const("file")),
        (1, Gen.OneOf("FILE", "files", "", "file\0", "fïle", "file\"; x=\"y", "other")));

    private static readonly Gen<string> FileName = Gen.Frequency<string>(
        (4, Gen.OneOf("data.bin", "report.pdf", "a")),
        (3, Gen.OneOf("", "../../etc/passwd", "..\\..\\boot.ini", "/abs/path.txt", "C:\\x\\y.bin", "\u202Etxt.exe", "😀.png",
            "a\0b.txt", "\ud800.bin", "name\"with\"quotes", "semi;colon", "new\r\nline", new string('n', 300), ".", "..", "CON")),
        (1, FuzzGen.NastyString));

    private static readonly Gen<string?> PartContentType = Gen.OneOf<string?>(
        "application/octet-stream", null, "text/plain", "image/png", "", "application/json; charset=utf-8", "x/\0y");

    private static readonly Gen<Multipart.Part> Part = Gen.Frequency<Multipart.Part>(
        (8, Gen.Select(FieldName, FileName, PartContentType, Gen.Byte.Array[0, 300], (name, fileName, type, body) =>
            new Multipart.Part($"Content-Disposition: form-data; name=\"{name}\"; filename=\"{fileName}\""
                + (type is null ? "" : $"\r\nContent-Type: {type}"), body))),
        (1, Gen.Select(FieldName, FuzzGen.NastyString, (name, value) => Multipart.Part.Field(name, value))),
        (1, Gen.OneOf("Content-Disposition: form-data", "Content-Disposition: attachment; filename=x", "", "Garbage",
            "Content-Disposition: form-data; name=file; filename*=UTF-8''%F0%9F%98%80.txt",
            "Content-Disposition: form-data; name=\"file\"; filename=\"x\"\r\nContent-Length: 99999999999")
            .SelectMany(headers => Gen.Byte.Array[0, 50].Select(body => new Multipart.Part(headers, body)))));

    private static readonly Gen<string> Boundary = Gen.Frequency<string>(
        (8, Gen.Const(Multipart.Boundary)),
        (1, Gen.OneOf("b", new string('b', 70), new string('b', 71), "with space", "\"quoted\"", "é", "")));

    private static readonly Gen<string?> ContentType = Gen.Frequency<string?>(
        (8, Gen.Const((string?)null)),
        (1, Gen.OneOf<string?>("multipart/form-data", "multipart/form-data; boundary=", "multipart/mixed; boundary=" + Multipart.Boundary,
            "application/json", "text/plain", "multipart/form-data; boundary=other", "multipart/form-data; boundary=\"" + Multipart.Boundary + "\"",
            "multipart/form-data; boundary=" + Multipart.Boundary + "; boundary=again", "", "multipart/form-data; charset=utf-8")));

    [Fact]
    public async Task UploadAnswersByContractAndRefusalsStoreNothing()
    {
        var requests =
            from parts in Part.Array[0, 3]
            from boundary in Boundary
            from closed in Gen.Frequency<bool>((6, Gen.Const(true)), (1, Gen.Const(false)))
            from contentType in ContentType
            from cut in Gen.Frequency<int?>((9, Gen.Const((int?)null)), (1, Gen.Int[0, 400].Select(n => (int?)n)))
            let body = Multipart.Body(boundary, closed, parts)
            select new FuzzRequest(HttpMethod.Post, "/api/uploads", cut is { } n ? body[..Math.Min(n, body.Length)] : body,
                contentType ?? "multipart/form-data; boundary=" + boundary);
        await CheckAsync(requests, async request =>
        {
            var response = await SendAsync(request, UploadShape);
            if (response.Status == HttpStatusCode.Created)
            {
                var fileName = response.Body.GetProperty("filename").GetString() ?? "";
                Assert.True(fileName.IndexOfAny(['/', '\\', '\0']) < 0 && fileName is not ("." or ".."),
                    $"stored file name {fileName} looks like a path: {request}");
                Assert.True(response.Body.GetProperty("size").GetInt64() >= 0, $"negative size: {request}");
            }
            return response;
        }, DefaultIterations);
    }
}

public sealed class UploadFuzzSqliteTests(SqliteApp app) : UploadFuzzTests(app), IClassFixture<SqliteApp>;

public sealed class UploadFuzzPostgresTests(PostgresApp app) : UploadFuzzTests(app), IClassFixture<PostgresApp>;
