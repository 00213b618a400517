namespace QwenSharp.Formats;

/// <summary>
/// A write-only window onto a file being written that lets a tensor's data callback write at most the bytes
/// its shape declares, and counts them, so a wrong callback fails at once instead of shifting every later tensor.
/// </summary>
internal sealed class CountedWriteStream(Stream inner, long limit, string tensorName) : Stream
{
    public long Written { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => Written;
    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length > limit - Written)
            throw new InvalidOperationException($"The data callback of tensor {tensorName} wrote more than the {limit} bytes its shape and type need.");
        inner.Write(buffer);
        Written += buffer.Length;
    }

    public override void WriteByte(byte value) => Write([value]);
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
