using System.Text.Json;
using ExBuy.Api.Common;

namespace ExBuy.Api.Uploads;

/// <summary>
/// An Upload's metadata lives next to its file: UPLOAD_DIR/&lt;id&gt; holds the bytes, UPLOAD_DIR/&lt;id&gt;.json the Upload
/// as POST answered it, which <c>GET /api/uploads/{id}</c> reads back (contract v1.1, "Beyond the original").
/// <para>
/// A sidecar rather than a table: UPLOAD_DIR is meant to become one directory shared by several replicas, and a file
/// and its metadata that travel together stay consistent wherever the directory goes (a table could say an upload
/// exists that this replica's directory does not hold, and a file and a row cannot be committed together). The
/// contract's Storage section has no uploads table, and uploads keep costing no SQL (X-Query-Count: 0) on either engine.
/// </para>
/// <para>
/// Reads are one open of a path built from the parsed id (no directory scan, no lock). The sidecar is written to a
/// temp name and renamed only after the upload's file has its final name, so a reader sees a complete sidecar or none,
/// and a sidecar always has its file; a crash in between leaves at most a file without metadata, which answers 404 like
/// an upload that never completed. Nothing is fsynced (as for the file itself), so after an OS crash a sidecar can be
/// empty: it is then treated the same way.
/// </para>
/// </summary>
internal static class UploadMetadata
{
    public const string Suffix = ".json";
    public const string TempSuffix = ".partial";

    /// <summary>The only way an id becomes a path: from a parsed <see cref="Guid"/>, formatted canonically.</summary>
    public static string FilePath(string directory, Guid id) => Path.Combine(directory, id.ToString("D"));

    public static string SidecarPath(string directory, Guid id) => FilePath(directory, id) + Suffix;

    /// <summary>An id as the URL carries it: the canonical 36-character form (either case), nothing around it.</summary>
    public static bool TryParseId(string text, out Guid id) =>
        Guid.TryParseExact(text, "D", out id) && string.Equals(id.ToString("D"), text, StringComparison.OrdinalIgnoreCase);

    /// <summary>Writes the sidecar of an upload whose file is already stored; on failure no sidecar (or temp) remains.</summary>
    public static async Task WriteAsync(string directory, UploadDto upload, CancellationToken ct)
    {
        var path = SidecarPath(directory, upload.Id);
        var temp = path + TempSuffix;
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0,
                FileOptions.Asynchronous))
            {
                await file.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(upload, ExBuyJsonContext.Default.UploadDto), ct);
            }
            File.Move(temp, path);
        }
        catch
        {
            UploadStorage.DeleteQuietly(temp);
            throw;
        }
    }

    /// <summary>The stored Upload, or null when nothing complete was stored under this id.</summary>
    public static async Task<UploadDto?> ReadAsync(string directory, Guid id, ILoggerFactory logs, CancellationToken ct)
    {
        var path = SidecarPath(directory, id);
        byte[] json;
        try
        {
            json = await File.ReadAllBytesAsync(path, ct);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        UploadDto? upload;
        try
        {
            upload = JsonSerializer.Deserialize(json, ExBuyJsonContext.Default.UploadDto);
        }
        catch (JsonException)
        {
            upload = null;
        }
        if (upload?.Id == id)
        {
            return upload;
        }
        logs.CreateLogger(typeof(UploadMetadata).FullName!).LogWarning(
            "Upload metadata {Path} ({Bytes} bytes) does not hold upload {Id}; answering 404", path, json.Length, id);
        return null;
    }
}
