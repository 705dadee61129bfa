using ExBuy.Api.Data;

namespace ExBuy.Api.Uploads;

/// <summary>UPLOAD_DIR (default ./uploads) and UPLOAD_MAX_BYTES (default 10 MiB, contract #14).</summary>
public sealed class UploadOptions
{
    public string Directory { get; set; } = "uploads";
    public long MaxBytes { get; set; } = 10 * 1024 * 1024;

    public static UploadOptions FromConfiguration(IConfiguration c)
    {
        var o = new UploadOptions { Directory = c["UPLOAD_DIR"] ?? "uploads" };
        var raw = c["UPLOAD_MAX_BYTES"];
        if (!string.IsNullOrWhiteSpace(raw))
        {
            o.MaxBytes = long.TryParse(raw, out var v) && v > 0
                ? v
                : throw new ConfigurationError($"UPLOAD_MAX_BYTES='{raw}' must be a positive whole number of bytes.");
        }
        return o;
    }
}
