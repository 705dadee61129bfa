using System.Security.Cryptography;
using System.Text;
using ExBuy.Api.Uploads;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExBuy.Api.Tests.Uploads;

[CollectionDefinition(nameof(AllocationSensitive), DisableParallelization = true)]
public sealed class AllocationSensitive;

/// <summary>
/// "Memory must not grow with file size" (contract #14), measured on the storage path itself with a limit far above the
/// test app's: a 64 MiB file, generated on the fly, must allocate only a small fraction of its size. Runs alone (the
/// collection is not parallel) because the allocation counter is process-wide.
/// </summary>
[Collection(nameof(AllocationSensitive))]
public sealed class UploadStreamingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "exbuy-stream-" + Guid.NewGuid().ToString("N")[..12]);

    [Fact]
    public async Task AllocationsDoNotGrowWithFileSize()
    {
        var options = new UploadOptions { Directory = _dir, MaxBytes = 256L * 1024 * 1024 };
        await ReceiveAsync(1024 * 1024, options); // warm up JIT and pools

        var small = await ReceiveAsync(4L * 1024 * 1024, options);
        var large = await ReceiveAsync(64L * 1024 * 1024, options);

        TestContext.Current.TestOutputHelper?.WriteLine($"allocated: 4 MiB upload {small} B, 64 MiB upload {large} B");
        // Buffering the file anywhere would cost at least its size; streaming costs a few fixed buffers (plus, in Debug
        // builds only, one async state machine object per read: ~0.9 MB here, ~0 in Release).
        Assert.True(large < 2 * 1024 * 1024, $"a 64 MiB upload allocated {large} bytes (4 MiB: {small})");
    }

    private async Task<long> ReceiveAsync(long size, UploadOptions options)
    {
        using var body = new GeneratedMultipartStream(size);
        var ct = TestContext.Current.CancellationToken;
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var result = await UploadStorage.ReceiveAsync(body, GeneratedMultipartStream.Boundary, options, ct);

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        var created = Assert.IsType<Created<UploadDto>>(result.Result);
        Assert.Equal(size, created.Value!.Size);
        Assert.Equal(body.Sha256(), created.Value.Sha256);
        var stored = new FileInfo(Path.Combine(_dir, created.Value.Id.ToString()));
        Assert.Equal(size, stored.Length);
        stored.Delete();
        return allocated;
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>A multipart body with one file part of the given size, produced as it is read (never held in memory).</summary>
    private sealed class GeneratedMultipartStream(long size) : Stream
    {
        public const string Boundary = "exbuy-generated-boundary";

        private readonly byte[] _head = Encoding.ASCII.GetBytes(
            $"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            + "Content-Type: application/octet-stream\r\n\r\n");
        private readonly byte[] _tail = Encoding.ASCII.GetBytes($"\r\n--{Boundary}--\r\n");
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _position;
        private Task<int>? _lastReadTask;

        public string Sha256() => Convert.ToHexStringLower(_hash.GetCurrentHash());

        public override int Read(Span<byte> buffer)
        {
            var written = 0;
            while (written < buffer.Length && _position + written < _head.Length)
            {
                buffer[written] = _head[_position + written];
                written++;
            }
            var payloadStart = written;
            for (var pos = _position + written - _head.Length; written < buffer.Length && pos < size; pos++)
            {
                // Values 0..250 in order: never CR LF, so the boundary cannot appear in the file.
                buffer[written++] = (byte)(pos % 251);
            }
            _hash.AppendData(buffer[payloadStart..written]);
            while (written < buffer.Length && _position + written - _head.Length - size < _tail.Length)
            {
                buffer[written] = _tail[_position + written - _head.Length - size];
                written++;
            }
            _position += written;
            return written;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            // Reuse the Task for a repeated count (as MemoryStream does), so the harness adds no allocation per read.
            var n = Read(buffer.AsSpan(offset, count));
            return _lastReadTask is { } last && last.Result == n ? last : _lastReadTask = Task.FromResult(n);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
