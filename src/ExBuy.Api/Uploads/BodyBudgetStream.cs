namespace ExBuy.Api.Uploads;

/// <summary>
/// A read-only view of the request body that fails with a 413 <see cref="BadHttpRequestException"/> (what Kestrel throws
/// for its own MaxRequestBodySize) once more than <paramref name="limit"/> bytes have been read, so the upload size bound
/// holds on every server, including those without IHttpMaxRequestBodySizeFeature (TestServer).
/// </summary>
internal sealed class BodyBudgetStream(Stream inner, long limit) : Stream
{
    private long _read;
    private Task<int>? _lastReadTask;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

    // MultipartReader's buffered stream reads through this overload; reuse the last Task when the count repeats (as
    // MemoryStream does), so reads that complete synchronously cost no allocation.
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        var read = ReadAsync(buffer.AsMemory(offset, count), cancellationToken);
        if (!read.IsCompletedSuccessfully)
        {
            return read.AsTask();
        }
        var n = read.Result;
        return _lastReadTask is { } last && last.Result == n ? last : _lastReadTask = Task.FromResult(n);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    private int Count(int read)
    {
        _read += read;
        if (_read > limit)
        {
            throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
