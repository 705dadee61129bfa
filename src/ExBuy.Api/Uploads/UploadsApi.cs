using ExBuy.Api.OpenApi;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace ExBuy.Api.Uploads;

public static class UploadsApi
{
    public static IEndpointRouteBuilder MapUploads(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/uploads").WithTags("Uploads");
        // The handler reads the multipart body itself (no IFormFile / [FromForm] binding), so the framework attaches no
        // antiforgery requirement; saying so explicitly keeps it that way if AddAntiforgery() is ever registered.
        group.MapPost("/", CreateUpload).WithName("CreateUpload").DisableAntiforgery()
            .WithDocumentedBody(typeof(UploadForm), "multipart/form-data")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);
        group.MapGet("/{id}", GetUpload).WithName("GetUpload");
        return app;
    }

    /// <summary>Contract #14: streams the <c>file</c> part to UPLOAD_DIR under a server-generated name.</summary>
    public static async Task<Results<Created<UploadDto>, ValidationProblem, ProblemHttpResult>> CreateUpload(
        HttpRequest request, UploadOptions options, CancellationToken ct)
    {
        if (!TryGetBoundary(request.ContentType, out var boundary))
        {
            return TypedResults.Problem(
                "Expected Content-Type: multipart/form-data with a boundary (1..70 characters) and a part named 'file'.",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported Media Type");
        }

        // Refuse what is declared too large before reading a byte of it.
        var bodyLimit = UploadStorage.BodyLimit(options);
        if (request.ContentLength > bodyLimit)
        {
            return UploadStorage.TooLarge(options);
        }

        // Kestrel's global limit is sized for JSON (Hosting.MaxJsonBodyBytes); this route allows the file plus framing.
        // Servers without the feature (TestServer) are still bounded by UploadStorage's own body budget.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = bodyLimit;
        }

        return await UploadStorage.ReceiveAsync(request.Body, boundary, options, ct);
    }

    /// <summary>
    /// v1.1: the Upload exactly as POST answered it, read from its sidecar (<see cref="UploadMetadata"/>). The id is a
    /// string here, not a <c>{id:guid}</c> route value, because that constraint also takes braces and other forms: only the
    /// canonical text names an upload, and the path is built from the parsed Guid, never from the text. Else → 404.
    /// </summary>
    public static async Task<Results<Ok<UploadDto>, NotFound>> GetUpload(
        string id, UploadOptions options, ILoggerFactory logs, CancellationToken ct)
    {
        if (!UploadMetadata.TryParseId(id, out var guid))
        {
            return TypedResults.NotFound();
        }
        var upload = await UploadMetadata.ReadAsync(Path.GetFullPath(options.Directory), guid, logs, ct);
        return upload is null ? TypedResults.NotFound() : TypedResults.Ok(upload);
    }

    /// <summary>multipart/form-data with a usable boundary (RFC 2046 §5.1.1: 1..70 characters); anything else is a 415.</summary>
    internal static bool TryGetBoundary(string? contentType, out string boundary)
    {
        boundary = "";
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var value = HeaderUtilities.RemoveQuotes(mediaType.Boundary);
        if (value.Length is 0 or > 70)
        {
            return false;
        }
        boundary = value.ToString();
        return true;
    }
}
