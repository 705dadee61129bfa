using System.Net;
using System.Text;

namespace ExBuy.Api.Tests.Uploads;

/// <summary>Request bodies for the upload tests, byte for byte, so every header a client could send can be exercised.</summary>
internal static class Multipart
{
    public const string Boundary = "exbuy-test-boundary-7d9f";

    /// <summary>One multipart part: its raw header lines (without the trailing blank line) and its body.</summary>
    public sealed record Part(string Headers, byte[] Body)
    {
        public static Part File(byte[] body, string fileName = "data.bin", string? contentType = "application/octet-stream") =>
            new($"Content-Disposition: form-data; name=\"file\"; filename=\"{fileName}\""
                + (contentType is null ? "" : $"\r\nContent-Type: {contentType}"), body);

        public static Part Field(string name, string value) =>
            new($"Content-Disposition: form-data; name=\"{name}\"", Encoding.UTF8.GetBytes(value));
    }

    public static byte[] Body(params Part[] parts) => Body(Boundary, closed: true, parts);

    public static byte[] Body(string boundary, bool closed, params Part[] parts)
    {
        using var body = new MemoryStream();
        foreach (var part in parts)
        {
            Write(body, $"--{boundary}\r\n{part.Headers}\r\n\r\n");
            body.Write(part.Body);
            Write(body, "\r\n");
        }
        if (closed)
        {
            Write(body, $"--{boundary}--\r\n");
        }
        return body.ToArray();
    }

    public static ByteArrayContent Content(params Part[] parts) => Content(Body(parts));

    public static ByteArrayContent Content(byte[] body, string? contentType = "multipart/form-data; boundary=" + Boundary)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        return content;
    }

    /// <summary>Bytes that differ per call, so a stored file can only match its own upload.</summary>
    public static byte[] RandomBytes(long length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private static void Write(Stream stream, string text) => stream.Write(Encoding.UTF8.GetBytes(text));
}

/// <summary>
/// A body that sends a prefix and then stalls until released, like a slow client or one that goes away mid-upload.
/// With a declared length it sends Content-Length (the rest is zeros once released), else it is chunked.
/// </summary>
internal sealed class StallingContent : HttpContent
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _prefix;
    private readonly long? _declaredLength;

    public StallingContent(byte[] prefix, long? declaredLength = null, string contentType = "multipart/form-data; boundary=" + Multipart.Boundary)
    {
        _prefix = prefix;
        _declaredLength = declaredLength;
        Headers.TryAddWithoutValidation("Content-Type", contentType);
    }

    /// <summary>Whether anything after the prefix has been sent.</summary>
    public bool Released => _release.Task.IsCompleted;

    public void Release() => _release.TrySetResult();

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
    {
        await stream.WriteAsync(_prefix, ct);
        await stream.FlushAsync(ct);
        await _release.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        var zeros = new byte[16 * 1024];
        for (var left = (_declaredLength ?? 0) - _prefix.Length; left > 0; left -= zeros.Length)
        {
            await stream.WriteAsync(zeros.AsMemory(0, (int)Math.Min(zeros.Length, left)), ct);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _declaredLength ?? 0;
        return _declaredLength is not null;
    }
}

/// <summary>A body sent without Content-Length (chunked), so only the server's streaming limits can stop it.</summary>
internal sealed class UnknownLengthContent : HttpContent
{
    private readonly byte[] _body;

    public UnknownLengthContent(byte[] body, string contentType = "multipart/form-data; boundary=" + Multipart.Boundary)
    {
        _body = body;
        Headers.TryAddWithoutValidation("Content-Type", contentType);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
    {
        for (var offset = 0; offset < _body.Length; offset += 16 * 1024)
        {
            await stream.WriteAsync(_body.AsMemory(offset, Math.Min(16 * 1024, _body.Length - offset)), ct);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
