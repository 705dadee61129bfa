using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ExBuy.Api.Common;
using ExBuy.Api.Data;
using ExBuy.Api.Observability;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace ExBuy.Api.Uploads;

/// <summary>
/// Streams the <c>file</c> part of a multipart body to a temp file in UPLOAD_DIR, hashing it on the way, and renames it to
/// the upload's id once the whole body has been read (contract #14). Memory per upload is a few fixed buffers, whatever
/// the file size; then writes its metadata sidecar (<see cref="UploadMetadata"/>). On any failure the temp file, and the
/// stored file if its sidecar could not be written, are deleted, so UPLOAD_DIR only ever holds complete uploads.
/// </summary>
internal static class UploadStorage
{
    public const string FileField = "file";
    public const string DefaultFileName = "upload";
    public const string DefaultContentType = "application/octet-stream";
    public const int MaxFileNameLength = 255;

    /// <summary>Room for boundaries, part headers and small extra fields around a file of MaxBytes.</summary>
    public const long MultipartOverheadBytes = 64 * 1024;

    // MultipartReader never returns its read buffer to the pool, so keep it modest; the copy buffer is pooled and
    // filled before each write, so the file gets few large writes.
    private const int ReaderBufferSize = 16 * 1024;
    private const int CopyBufferSize = 64 * 1024;

    public static long BodyLimit(UploadOptions options) =>
        options.MaxBytes > long.MaxValue - MultipartOverheadBytes ? long.MaxValue : options.MaxBytes + MultipartOverheadBytes;

    public static ProblemHttpResult TooLarge(UploadOptions options) => TypedResults.Problem(
        $"The file must be at most {options.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes (UPLOAD_MAX_BYTES).",
        statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload Too Large");

    public static async Task<Results<Created<UploadDto>, ValidationProblem, ProblemHttpResult>> ReceiveAsync(
        Stream body, string boundary, UploadOptions options, CancellationToken ct)
    {
        var directory = Path.GetFullPath(options.Directory);
        Directory.CreateDirectory(directory);
        var id = Guid.NewGuid();
        var path = UploadMetadata.FilePath(directory, id);
        var tempPath = path + UploadMetadata.TempSuffix;
        var stored = false;
        var committed = false;
        try
        {
            // The budget bounds the whole body on servers that do not enforce IHttpMaxRequestBodySizeFeature.
            var reader = new MultipartReader(boundary, new BodyBudgetStream(body, BodyLimit(options)), ReaderBufferSize);
            UploadDto? upload = null;
            MultipartSection? section;
            while ((section = await NextSectionAsync(reader, ct)) is not null)
            {
                // Parts other than the first `file` are skipped: ReadNextSectionAsync drains them.
                if (upload is not null || !IsFilePart(section, out var clientFileName))
                {
                    continue;
                }
                var (size, sha256) = await CopyToFileAsync(section.Body, tempPath, options.MaxBytes, ct);
                if (size > options.MaxBytes)
                {
                    return TooLarge(options);
                }
                if (size == 0)
                {
                    return Invalid("The file is empty.");
                }
                upload = new UploadDto(id, SanitizeFileName(clientFileName), size, SanitizeContentType(section.ContentType),
                    sha256, Clock.UtcNow());
            }
            if (upload is null)
            {
                return Invalid($"A multipart part named '{FileField}' is required.");
            }
            // Stored only once the body ended with its closing boundary: a truncated request never leaves a file.
            File.Move(tempPath, path);
            stored = true;
            // The sidecar comes last, so one is never seen without its complete file.
            await UploadMetadata.WriteAsync(directory, upload, ct);
            committed = true;
            ExBuyMetrics.UploadStored(upload.Size);
            return TypedResults.Created($"/api/uploads/{id}", upload);
        }
        catch (BadHttpRequestException bad) when (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(options);
        }
        catch (MalformedMultipartException bad)
        {
            return Invalid("The multipart body is malformed or ended early: " + bad.Message);
        }
        catch (IOException full) when (IsDiskFull(full))
        {
            // The partial file goes (finally, below); the server and every other upload carry on.
            return TypedResults.Problem(
                $"No space left for the upload in UPLOAD_DIR ({directory}): {full.Message}. Nothing was stored; free space or point UPLOAD_DIR elsewhere.",
                statusCode: StatusCodes.Status507InsufficientStorage, title: "Insufficient Storage");
        }
        finally
        {
            if (!committed)
            {
                DeleteQuietly(stored ? path : tempPath);
            }
        }
    }

    /// <summary>
    /// The client's filename as metadata only: last segment after '/' or '\', control and format characters removed,
    /// trimmed, at most <see cref="MaxFileNameLength"/> characters; empty (or "." / "..") → "upload". Never a path.
    /// </summary>
    internal static string SanitizeFileName(string? raw)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return DefaultFileName;
        }
        var kept = new StringBuilder(Math.Min(raw.Length, 1024));
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (char.IsHighSurrogate(c) && i + 1 < raw.Length && char.IsLowSurrogate(raw[i + 1]))
            {
                kept.Append(c).Append(raw[++i]);
                continue;
            }
            var category = char.GetUnicodeCategory(c);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                continue;
            }
            kept.Append(c == '\\' ? '/' : c);
        }
        var name = Path.GetFileName(kept.ToString()).Trim();
        if (name.Length > MaxFileNameLength)
        {
            // Keep a short extension so the name still says what the file is.
            var extension = Path.GetExtension(name);
            extension = extension.Length is > 1 and <= 16 ? extension : "";
            var stem = name[..(MaxFileNameLength - extension.Length)];
            if (char.IsHighSurrogate(stem[^1]))
            {
                stem = stem[..^1];
            }
            name = stem.TrimEnd() + extension;
        }
        return name is "" or "." or ".." ? DefaultFileName : name;
    }

    /// <summary>The part's media type (type/subtype, lower case, no parameters); absent or unparsable → octet-stream.</summary>
    internal static string SanitizeContentType(string? raw) =>
        MediaTypeHeaderValue.TryParse(raw, out var parsed)
            && parsed.MediaType is { Length: > 2 and <= 255 } mediaType
            && !mediaType.AsSpan().Contains('*')
                ? mediaType.ToString().ToLowerInvariant()
                : DefaultContentType;

    private static bool IsFilePart(MultipartSection section, out string? fileName)
    {
        fileName = null;
        if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
            || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
            || !HeaderUtilities.RemoveQuotes(disposition.Name).Equals(FileField, StringComparison.Ordinal))
        {
            return false;
        }
        // filename* (RFC 5987, already decoded) wins over filename, as in ASP.NET Core's own form reader.
        var name = StringSegment.IsNullOrEmpty(disposition.FileNameStar)
            ? HeaderUtilities.RemoveQuotes(disposition.FileName)
            : disposition.FileNameStar;
        fileName = name.Value;
        return true;
    }

    /// <summary>Copies the part to a new file while hashing it; stops as soon as it exceeds <paramref name="max"/>.</summary>
    private static async Task<(long Size, string Sha256)> CopyToFileAsync(Stream part, string path, long max, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            await using var file = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
                BufferSize = 0, // the copy buffer already batches writes
            });
            long size = 0;
            while (true)
            {
                var filled = 0;
                int read;
                while (filled < CopyBufferSize && (read = await ReadPartAsync(part, buffer.AsMemory(filled, CopyBufferSize - filled), ct)) > 0)
                {
                    filled += read;
                    if (size + filled > max)
                    {
                        return (size + filled, "");
                    }
                }
                if (filled == 0)
                {
                    break;
                }
                hash.AppendData(buffer, 0, filled);
                await file.WriteAsync(buffer.AsMemory(0, filled), ct);
                size += filled;
            }
            return (size, Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<MultipartSection?> NextSectionAsync(MultipartReader reader, CancellationToken ct)
    {
        try
        {
            return await reader.ReadNextSectionAsync(ct);
        }
        catch (Exception ex) when (IsMalformed(ex, ct))
        {
            throw new MalformedMultipartException(ex.Message, ex);
        }
    }

    private static async ValueTask<int> ReadPartAsync(Stream part, Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            return await part.ReadAsync(buffer, ct);
        }
        catch (Exception ex) when (IsMalformed(ex, ct))
        {
            throw new MalformedMultipartException(ex.Message, ex);
        }
    }

    /// <summary>
    /// MultipartReader reports bad framing (missing boundary, oversized headers, early end) as InvalidDataException or
    /// IOException: the client's fault, so a 400. The server's own limits and aborted requests keep their meaning
    /// (BadHttpRequestException is an IOException too), and disk errors never pass through here.
    /// </summary>
    private static bool IsMalformed(Exception ex, CancellationToken ct) =>
        !ct.IsCancellationRequested && ex is InvalidDataException or (IOException and not BadHttpRequestException);

    private const int Enospc = 28;
    private const int Edquot = 122;

    /// <summary>ENOSPC or EDQUOT: .NET on Unix reports the errno as the IOException's HResult.</summary>
    internal static bool IsDiskFull(IOException ex) =>
        ex.HResult is Enospc or Edquot || (ex.HResult & 0xFFFF) is 0x70 or 0x27; // Windows: ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL

    private static ValidationProblem Invalid(string message) =>
        TypedResults.ValidationProblem(new ValidationErrors { { FileField, message } });

    internal static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed class MalformedMultipartException(string message, Exception inner) : Exception(message, inner);
}
